import { ChannelState } from './channel-state.js';
import type { SettingsPolicy } from './policy.js';

/**
 * The in-memory store's channel records. A channel with nothing open, queued, in flight, paused or
 * overridden is idle: it holds no timer, and the most recently idled ones (at most `rememberIdle`) stay
 * readable, marked by their slot in a ring, so a channel that speaks again costs no Map operation and the
 * admin API can still show, stop or resume it. When the ring wraps, the oldest still-idle channel leaves
 * memory for good: idle state is bounded by count, not by the number of channels ever seen.
 */
export class ChannelTable {
  private readonly channels = new Map<string, ChannelState>();
  private readonly idleRing: Array<ChannelState | undefined>;
  private idleNext = 0;
  private idleCount = 0;

  constructor(
    private readonly policy: SettingsPolicy,
    private readonly rememberIdle: number,
  ) {
    this.idleRing = new Array<ChannelState | undefined>(rememberIdle);
  }

  /** The channel's record, made when missing; a remembered idle one becomes live again. */
  state(key: string): ChannelState {
    let ch = this.channels.get(key);
    if (ch === undefined) {
      ch = new ChannelState(key, this.policy.resolve(key));
      this.channels.set(key, ch);
    } else if (ch.idleSlot >= 0) {
      this.wake(ch);
    }
    return ch;
  }

  /** Looks a channel up, bringing back a remembered idle one (an operator may act on a quiet channel). */
  known(key: string): ChannelState | undefined {
    const ch = this.channels.get(key);
    if (ch !== undefined && ch.idleSlot >= 0) this.wake(ch);
    return ch;
  }

  /** Looks a channel up as it is (a remembered idle one stays idle). */
  get(key: string): ChannelState | undefined {
    return this.channels.get(key);
  }

  /** Every record held, remembered idle ones included. */
  values(): IterableIterator<ChannelState> {
    return this.channels.values();
  }

  /** Channels whose state is held, not counting remembered idle ones. */
  get activeCount(): number {
    return this.channels.size - this.idleCount;
  }

  /** A remembered idle channel becomes live again (its ring slot is simply abandoned). */
  private wake(ch: ChannelState): void {
    ch.idleSlot = -1;
    this.idleCount--;
    ch.settings = ch.base === null ? this.policy.resolve(ch.key, ch.override) : Object.freeze({ ...ch.base, ...ch.override });
  }

  /** An idle channel holds no timer and leaves memory once `rememberIdle` newer channels went idle after it. */
  evictIfIdle(ch: ChannelState): void {
    if (!ch.idle || ch.idleSlot >= 0 || !ch.live) return;
    ch.heapAt = Infinity;
    ch.overWarn = false;
    if (this.rememberIdle === 0) {
      this.forget(ch);
      return;
    }
    const slot = this.idleNext;
    this.idleNext = (slot + 1) % this.rememberIdle;
    const oldest = this.idleRing[slot];
    if (oldest !== undefined && oldest.idleSlot === slot) {
      oldest.idleSlot = -1;
      this.idleCount--;
      if (oldest.live) this.forget(oldest);
    }
    this.idleRing[slot] = ch;
    ch.idleSlot = slot;
    this.idleCount++;
  }

  private forget(ch: ChannelState): void {
    ch.live = false;
    this.channels.delete(ch.key);
  }
}
