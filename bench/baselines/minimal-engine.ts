/**
 * The least a deadline-heap batching engine with batchgate's API can do, used to bound what S1 can show.
 * It keeps the duties every engine of this shape pays on the hot path and nothing else:
 * - `enqueue` is async and answers a result object, and keeps a checked copy of the message (callers may
 *   reuse theirs), like MessageQueue;
 * - one sliding window per channel with a deadline number, one heap and one timer for all of them, a size
 *   cap, seal order kept per channel, one batch in flight per channel, an async processor per batch.
 * No events, stats, eviction, overflow policy, pause, abort signals, processing timeouts, concurrency cap or
 * settings per channel: it is not a usable engine. If even this does not reach a multiple of the naive
 * debounce on a workload, that multiple is out of reach for any engine with the same duties there.
 */
import { systemClock } from '../../src/core/clock.js';
import { DeadlineHeap } from '../../src/core/deadlines.js';

interface MinimalMessage {
  id: string;
  platform: string;
  channelId: string;
  userId: string;
  text: string;
  queuedAt: number;
}

/** What the minimal engine hands its processor. */
export interface MinimalBatch {
  key: string;
  messages: MinimalMessage[];
}

class MinimalChannel {
  open: MinimalMessage[] | null = null;
  deadline = Infinity;
  /** Time of this channel's live heap entry (older entries are skipped when they surface). */
  heapAt = Infinity;
  queued: MinimalBatch[] = [];
  running = false;

  constructor(readonly key: string) {}
}

export interface MinimalEngineOptions {
  windowMs: number;
  maxBatchSize: number;
  processor: (batch: MinimalBatch) => Promise<void>;
  /** Called when a window closes on its deadline, with the deadline and the time it closed (clock ms). */
  onTimerFlush?: (deadline: number, actual: number) => void;
}

const clock = systemClock.now;

export class MinimalEngine {
  /** platform → channelId → channel: no key string built per message. */
  private readonly channels = new Map<string, Map<string, MinimalChannel>>();
  private readonly heap = new DeadlineHeap<MinimalChannel>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  constructor(private readonly options: MinimalEngineOptions) {}

  enqueue(input: { id: string; platform: string; channelId: string; userId: string; text: string }): Promise<{ accepted: boolean; channelKey: string; pending: number }> {
    const now = clock();
    if (typeof input.id !== 'string' || typeof input.platform !== 'string' || typeof input.channelId !== 'string' || typeof input.userId !== 'string' || typeof input.text !== 'string') {
      return Promise.reject(new TypeError('bad message'));
    }
    const msg: MinimalMessage = { id: input.id, platform: input.platform, channelId: input.channelId, userId: input.userId, text: input.text, queuedAt: Math.round(now) };
    let byId = this.channels.get(msg.platform);
    if (byId === undefined) this.channels.set(msg.platform, (byId = new Map()));
    let ch = byId.get(msg.channelId);
    if (ch === undefined) byId.set(msg.channelId, (ch = new MinimalChannel(`${msg.platform}:${msg.channelId}`)));
    if (ch.open === null) ch.open = [msg];
    else ch.open.push(msg);
    const pending = ch.open.length;
    if (pending >= this.options.maxBatchSize) this.seal(ch);
    else {
      ch.deadline = now + this.options.windowMs;
      if (ch.deadline < ch.heapAt) {
        ch.heapAt = ch.deadline;
        this.heap.push(ch.deadline, ch);
        this.arm(ch.deadline);
      }
    }
    return Promise.resolve({ accepted: true, channelKey: ch.key, pending });
  }

  private arm(at: number): void {
    if (at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(at - clock())));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = clock();
    const heap = this.heap;
    while (heap.size > 0 && heap.peekTime() <= now) {
      const at = heap.peekTime();
      const ch = heap.pop();
      if (ch.heapAt !== at) continue;
      ch.heapAt = Infinity;
      if (ch.open === null) continue;
      if (ch.deadline > now) {
        ch.heapAt = ch.deadline;
        heap.push(ch.deadline, ch);
      } else {
        this.options.onTimerFlush?.(ch.deadline, clock());
        this.seal(ch);
      }
    }
    while (heap.size > 0 && heap.peekItem()!.heapAt !== heap.peekTime()) heap.pop();
    if (heap.size > 0) this.arm(heap.peekTime());
  }

  private seal(ch: MinimalChannel): void {
    ch.queued.push({ key: ch.key, messages: ch.open! });
    ch.open = null;
    ch.deadline = Infinity;
    if (!ch.running) this.start(ch);
  }

  private start(ch: MinimalChannel): void {
    const batch = ch.queued.shift()!;
    ch.running = true;
    const settle = () => {
      ch.running = false;
      if (ch.queued.length > 0) this.start(ch);
    };
    Promise.resolve(this.options.processor(batch)).then(settle, settle);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
