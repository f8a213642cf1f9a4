import type {
  AppendResult,
  BatchStore,
  ChannelCounters,
  ChannelStats,
  EmitQueueEvent,
  FinishOutcome,
  FinishResult,
  SealResult,
  TakenBatch,
} from './batch-store.js';
import { DeadlineHeap } from './deadlines.js';
import type { DurableBatch, DurableChannel, StoreJournal } from './journal.js';
import { QueueEventType, type DropReason } from './events.js';
import { MessageBatch, channelKeyOf, messageToJSON, parseChannelKey, type FlushReason, type QueuedMessage } from './model.js';
import type { ChannelSettings, SettingsOverride, SettingsPolicy } from './policy.js';
import { ChannelSlot } from './ready-queue.js';

/** A seal of this store carries the channel's record, so the engine dispatches it without a look-up. */
export type LocalSealResult = SealResult & { slot: ChannelSlot };
/** {@link AppendResult} whose seal carries the channel's record. */
export type LocalAppendResult = AppendResult<LocalSealResult>;

/** A sealed batch in a channel's queue. `take` hands the entry itself out as the TakenBatch (one object less per batch). */
interface QueuedEntry extends TakenBatch {
  seq: number;
  /** Set when the entry goes in flight. */
  startedAt: number;
}

function queuedEntry(batch: MessageBatch, sealedAt: number, seq: number, attempt: number, settings: ChannelSettings): QueuedEntry {
  return { batch, sealedAt, attempt, settings, seq, startedAt: 0 };
}

/** Frozen answers for the common finish outcomes: nothing per batch to allocate. */
const NOT_CURRENT: FinishResult = Object.freeze({ current: false, nextSeq: null });
const NOTHING_NEXT: FinishResult = Object.freeze({ current: true, nextSeq: null });
const finished = (nextSeq: number | null): FinishResult => (nextSeq === null ? NOTHING_NEXT : { current: true, nextSeq });

/** Everything the store holds for one channel; dropped from the map as soon as the channel is idle. */
class ChannelState extends ChannelSlot {
  open: MessageBatch | null = null;
  /** The open batch's deadline, or Infinity. */
  deadline = Infinity;
  /** The open batch is held open until at least this (epoch ms; see `hold`), 0 when not held. */
  holdUntil = 0;
  /** Time of this channel's live heap entry, or Infinity; other entries for it are stale. */
  heapAt = Infinity;
  queued: QueuedEntry[] = [];
  inFlight: QueuedEntry | null = null;
  paused = false;
  override: SettingsOverride | null = null;
  overWarn = false;
  /** Slot in the idle ring while remembered after eviction, else -1. */
  idleSlot = -1;
  readonly counters: ChannelCounters = { received: 0, batches: 0, processed: 0, cancelled: 0, failed: 0, dropped: 0, cleared: 0 };

  constructor(
    key: string,
    public settings: ChannelSettings,
  ) {
    super(key);
  }

  get idle(): boolean {
    return this.open === null && this.queued.length === 0 && this.inFlight === null && !this.paused && this.override === null;
  }

  queuedMessages(): number {
    let n = 0;
    for (const e of this.queued) n += e.batch.size;
    return n;
  }
}

export interface InMemoryBatchStoreOptions {
  policy: SettingsPolicy;
  emit: EmitQueueEvent;
  /** Share of maxQueuedBatches at which a channel warns once per crossing. @defaultValue 0.75 */
  queueWarnRatio?: number;
  /** How many idle channels stay readable (counters, stop/resume) before they leave memory. @defaultValue 1000 */
  rememberIdle?: number;
  /**
   * Whether anyone consumes `batch.flushed` events; when it answers false the store does not build them
   * (one object per seal on the hot path). @defaultValue always true
   */
  listening?: () => boolean;
  /** Told every durable step as it happens (embedded mode's crash journal). @defaultValue none */
  journal?: StoreJournal;
}

/**
 * The embedded store: plain objects in a Map and one deadline heap. Idle channels are evicted at once
 * (no timer, no state); a bounded LRU remembers the counters of the most recent ones for the admin API.
 */
export class InMemoryBatchStore implements BatchStore {
  private readonly channels = new Map<string, ChannelState>();
  private readonly heap = new DeadlineHeap<ChannelState>();
  /**
   * The most recently idled channels (at most `rememberIdle`) stay in `channels`, marked by their slot in
   * this ring: a channel that speaks again costs no Map operation, and the admin API can still show, stop
   * or resume it. When the ring wraps, the oldest still-idle channel is deleted for good.
   */
  private readonly idleRing: Array<ChannelState | undefined>;
  private idleNext = 0;
  private idleCount = 0;
  private readonly policy: SettingsPolicy;
  private readonly emit: EmitQueueEvent;
  private readonly warnRatio: number;
  private readonly rememberIdle: number;
  private readonly listening: () => boolean;
  private readonly journal: StoreJournal | undefined;
  private seq = 0;

  constructor(options: InMemoryBatchStoreOptions) {
    this.policy = options.policy;
    this.emit = options.emit;
    this.warnRatio = options.queueWarnRatio ?? 0.75;
    this.rememberIdle = options.rememberIdle ?? 1_000;
    this.listening = options.listening ?? (() => true);
    this.journal = options.journal;
    this.idleRing = new Array<ChannelState | undefined>(this.rememberIdle);
  }

  private state(key: string): ChannelState {
    let ch = this.channels.get(key);
    if (ch === undefined) {
      ch = new ChannelState(key, this.policy.resolve(key));
      this.channels.set(key, ch);
    } else if (ch.idleSlot >= 0) {
      this.wake(ch);
    }
    return ch;
  }

  /** A remembered idle channel becomes live again (its ring slot is simply abandoned). */
  private wake(ch: ChannelState): void {
    ch.idleSlot = -1;
    this.idleCount--;
    ch.settings = this.policy.resolve(ch.key, ch.override);
  }

  /** An idle channel holds no timer and leaves memory once `rememberIdle` newer channels went idle after it. */
  private evictIfIdle(ch: ChannelState): void {
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

  append(msg: QueuedMessage, now: number, channelKey: string = channelKeyOf(msg)): LocalAppendResult {
    const ch = this.state(channelKey);
    const s = ch.settings;
    ch.counters.received++;
    if (s.overflow === 'reject' && ch.open === null && ch.queued.length >= s.maxQueuedBatches) {
      ch.counters.dropped++;
      this.emit({ type: QueueEventType.Dropped, channelKey: ch.key, at: now, count: 1, reason: 'rejected' });
      return { status: 'rejected', reason: 'queue full', settings: s };
    }
    if (s.disabled) {
      // Turned on while a window was open: the open messages go first, in the same batch.
      if (ch.open !== null) {
        ch.open.add(msg, now);
        this.journal?.appended(ch.key, msg, null);
        return { status: 'sealed', sealed: this.sealOpen(ch, 'disabled', now, now), settings: s };
      }
      const batch = new MessageBatch(ch.key, { at: now });
      batch.add(msg, now);
      this.journal?.appended(ch.key, msg, batch.id);
      return { status: 'sealed', sealed: this.sealBatch(ch, batch, 'disabled', now, now), settings: s };
    }
    let open = ch.open;
    let opened: string | null = null;
    if (open === null) {
      open = ch.open = new MessageBatch(ch.key, { at: now });
      ch.holdUntil = 0;
      opened = open.id;
    }
    open.add(msg, now);
    this.journal?.appended(ch.key, msg, opened);
    if (open.size >= s.maxBatchSize) {
      return { status: 'sealed', sealed: this.sealOpen(ch, 'size', now, now), settings: s };
    }
    const deadline = this.openDeadline(ch);
    return { status: 'open', pending: open.size, deadline, settings: s };
  }

  /** Recomputes the open batch's deadline from the current settings; arms the heap only if it moved earlier. */
  private openDeadline(ch: ChannelState): number {
    const open = ch.open!;
    const s = ch.settings;
    const deadline = Math.min(Math.max(open.lastAt + s.windowMs, ch.holdUntil), open.firstAt + s.maxWaitMs);
    ch.deadline = deadline;
    if (deadline < ch.heapAt) {
      ch.heapAt = deadline;
      this.heap.push(deadline, ch);
    }
    return deadline;
  }

  private sealOpen(ch: ChannelState, reason: FlushReason, deadline: number, now: number): LocalSealResult {
    const batch = ch.open!;
    ch.open = null;
    ch.deadline = Infinity;
    return this.sealBatch(ch, batch, reason, deadline, now);
  }

  private sealBatch(ch: ChannelState, batch: MessageBatch, reason: FlushReason, deadline: number, now: number): LocalSealResult {
    batch.flushReason = reason;
    ch.counters.batches++;
    const entry = queuedEntry(batch, now, ++this.seq, 1, ch.settings);
    this.enqueueSealed(ch, entry, now);
    this.journal?.sealed(ch.key, reason);
    if (this.listening()) this.emit({
      type: QueueEventType.Flushed,
      channelKey: ch.key,
      at: now,
      batchId: batch.id,
      size: batch.size,
      reason,
      deadline,
      latenessMs: now - deadline,
      firstAt: batch.firstAt,
    });
    return this.sealResult(ch, batch, reason);
  }

  private sealResult(ch: ChannelState, batch: MessageBatch, reason: FlushReason): LocalSealResult {
    return {
      channelKey: ch.key,
      batchId: batch.id,
      size: batch.size,
      reason,
      mode: ch.settings.mode,
      headSeq: ch.queued[0]?.seq ?? this.seq,
      slot: ch,
    };
  }

  /** Appends a sealed entry, applying the channel's overflow policy at the bound. */
  private enqueueSealed(ch: ChannelState, entry: QueuedEntry, now: number): void {
    const s = ch.settings;
    if (ch.queued.length >= s.maxQueuedBatches) {
      if (s.overflow === 'drop-oldest') {
        const dropped = ch.queued.shift()!;
        this.journal?.droppedHead(ch.key);
        this.countDrop(ch, dropped.batch.size, 'overflow', now, dropped.batch.id);
      } else {
        // merge (and reject, whose refusals happen at append; a batch that still overflows is kept, never lost)
        const merged = new MessageBatch(ch.key, { at: now, messages: ch.queued.flatMap((e) => e.batch.messages) });
        merged.flushReason = ch.queued[0]!.batch.flushReason;
        ch.queued = [queuedEntry(merged, ch.queued[0]!.sealedAt, ch.queued[0]!.seq, 1, s)];
        this.journal?.merged(ch.key, merged.id);
      }
    }
    ch.queued.push(entry);
    this.checkWarn(ch, now);
  }

  private countDrop(ch: ChannelState, count: number, reason: DropReason, now: number, batchId?: string): void {
    ch.counters.dropped += count;
    this.emit({ type: QueueEventType.Dropped, channelKey: ch.key, at: now, count, reason, ...(batchId ? { batchId } : {}) });
  }

  private checkWarn(ch: ChannelState, now: number): void {
    const limit = ch.settings.maxQueuedBatches;
    const over = ch.queued.length >= Math.max(1, Math.ceil(limit * this.warnRatio));
    if (over === ch.overWarn) return;
    ch.overWarn = over;
    this.emit({
      type: over ? QueueEventType.OverWarn : QueueEventType.UnderWarn,
      channelKey: ch.key,
      at: now,
      queuedBatches: ch.queued.length,
      limit,
    });
  }

  sealDue(now: number, limit: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    const heap = this.heap;
    while (heap.size > 0 && heap.peekTime() <= now && out.length < limit) {
      const at = heap.peekTime();
      const ch = heap.pop();
      if (ch.heapAt !== at) continue; // stale: the channel re-armed earlier, sealed, or was evicted
      ch.heapAt = Infinity;
      if (ch.open === null) continue;
      if (ch.deadline > now) {
        // The window slid (or was disarmed and re-armed): re-arm at its current end.
        if (ch.deadline !== Infinity) {
          ch.heapAt = ch.deadline;
          heap.push(ch.deadline, ch);
        }
        continue;
      }
      const reason: FlushReason = ch.deadline >= ch.open.firstAt + ch.settings.maxWaitMs ? 'maxWait' : 'window';
      out.push(this.sealOpen(ch, reason, ch.deadline, now));
    }
    return out;
  }

  nextDeadline(): number | null {
    const heap = this.heap;
    while (heap.size > 0 && heap.peekItem()!.heapAt !== heap.peekTime()) heap.pop();
    return heap.size > 0 ? heap.peekTime() : null;
  }

  seal(channelKey: string, reason: FlushReason, now: number): LocalSealResult | null {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.open === null) return null;
    return this.sealOpen(ch, reason, now, now);
  }

  sealAll(reason: FlushReason, now: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    for (const ch of this.channels.values()) if (ch.open !== null) out.push(this.sealOpen(ch, reason, now, now));
    return out;
  }

  pushFront(channelKey: string, item: QueuedMessage | MessageBatch, now: number): LocalSealResult {
    const ch = this.state(channelKey);
    let batch: MessageBatch;
    if (item instanceof MessageBatch) batch = item;
    else {
      batch = new MessageBatch(channelKey, { at: now });
      batch.add(item, now);
    }
    ch.counters.received += item instanceof MessageBatch ? 0 : 1;
    ch.counters.batches++;
    batch.flushReason = 'admin';
    // Goes first in its channel; its seal order is the queue's current head so it keeps the channel's place.
    const seq = ch.queued[0]?.seq ?? ++this.seq;
    ch.queued.unshift(queuedEntry(batch, now, seq, 1, ch.settings));
    this.journal?.pushedFront(channelKey, durableBatch(batch, 1));
    this.emit({ type: QueueEventType.Flushed, channelKey, at: now, batchId: batch.id, size: batch.size, reason: 'admin', deadline: now, latenessMs: 0, firstAt: batch.firstAt });
    this.checkWarn(ch, now);
    return this.sealResult(ch, batch, 'admin');
  }

  restore(batches: MessageBatch[], now: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    for (const batch of batches) {
      if (batch.size === 0) continue;
      const ch = this.state(batch.channelKey);
      ch.counters.received += batch.size;
      ch.counters.batches++;
      ch.queued.push(queuedEntry(batch, now, ++this.seq, 1, ch.settings));
      this.journal?.restored(ch.key, durableBatch(batch, 1));
      out.push(this.sealResult(ch, batch, batch.flushReason ?? 'shutdown'));
    }
    return out;
  }

  /** The channel's state: the record the engine holds when it is still live, else a look-up by key. */
  private stateOf(channelKey: string, slot: ChannelSlot | undefined): ChannelState | undefined {
    return slot instanceof ChannelState && slot.live ? slot : this.channels.get(channelKey);
  }

  /** `slot`: the record a seal handed out, which saves the look-up by key. */
  take(channelKey: string, now: number, slot?: ChannelSlot): TakenBatch | null {
    const ch = this.stateOf(channelKey, slot);
    if (!ch || ch.paused || ch.inFlight !== null || ch.queued.length === 0) return null;
    const entry = ch.queued.shift()!;
    entry.startedAt = now;
    entry.settings = ch.settings;
    ch.inFlight = entry;
    this.journal?.taken(ch.key);
    this.checkWarn(ch, now);
    return entry;
  }

  private next(ch: ChannelState): number | null {
    return !ch.paused && ch.inFlight === null && ch.queued.length > 0 ? ch.queued[0]!.seq : null;
  }

  finish(channelKey: string, batchId: string, outcome: FinishOutcome, _now?: number, slot?: ChannelSlot): FinishResult {
    const ch = this.stateOf(channelKey, slot);
    if (!ch || ch.inFlight?.batch.id !== batchId) return NOT_CURRENT;
    ch.inFlight = null;
    this.journal?.finished(ch.key);
    ch.counters[outcome]++;
    const nextSeq = this.next(ch);
    this.evictIfIdle(ch);
    return finished(nextSeq);
  }

  interrupt(channelKey: string, batchId: string, now: number): FinishResult {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.inFlight?.batch.id !== batchId) return NOT_CURRENT;
    const interrupted = ch.inFlight;
    ch.inFlight = null;
    const messages = [...interrupted.batch.messages, ...ch.queued.flatMap((e) => e.batch.messages)];
    const merged = new MessageBatch(channelKey, { at: now, messages });
    merged.flushReason = ch.queued.at(-1)?.batch.flushReason ?? interrupted.batch.flushReason;
    ch.queued = [queuedEntry(merged, interrupted.sealedAt, interrupted.seq, interrupted.attempt + 1, ch.settings)];
    this.journal?.interrupted(channelKey, merged.id);
    this.checkWarn(ch, now);
    this.emit({ type: QueueEventType.Interrupted, channelKey, at: now, batchId, size: interrupted.batch.size });
    return finished(this.next(ch));
  }

  release(channelKey: string, batchId: string, now: number): FinishResult {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.inFlight?.batch.id !== batchId) return NOT_CURRENT;
    const entry = ch.inFlight;
    ch.inFlight = null;
    entry.attempt++; // the processor saw it: the next run is another attempt
    ch.queued.unshift(entry);
    this.journal?.released(channelKey);
    this.checkWarn(ch, now);
    return finished(this.next(ch));
  }

  /** Looks a channel up, bringing back a recently evicted one (an operator may act on a quiet channel). */
  private known(channelKey: string): ChannelState | undefined {
    const ch = this.channels.get(channelKey);
    if (ch !== undefined && ch.idleSlot >= 0) this.wake(ch);
    return ch;
  }

  pause(channelKey: string, now: number): boolean {
    const ch = this.known(channelKey);
    if (!ch) return false;
    if (!ch.paused) {
      ch.paused = true;
      this.journal?.paused(channelKey, true);
      this.emit({ type: QueueEventType.Paused, channelKey, at: now, cancelled: false });
    }
    return true;
  }

  resume(channelKey: string, now: number): { nextSeq: number | null } | undefined {
    const ch = this.known(channelKey);
    if (!ch) return undefined;
    if (ch.paused) {
      ch.paused = false;
      this.journal?.paused(channelKey, false);
      this.emit({ type: QueueEventType.Resumed, channelKey, at: now });
    }
    const nextSeq = this.next(ch);
    this.evictIfIdle(ch);
    return { nextSeq };
  }

  disarm(channelKey: string): boolean {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.deadline === Infinity) return false;
    ch.deadline = Infinity;
    ch.heapAt = Infinity;
    return true;
  }

  hold(channelKey: string, holdMs: number, now: number): number | null {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.open === null || ch.deadline === Infinity) return null;
    ch.holdUntil = Math.max(ch.holdUntil, now + holdMs);
    return this.openDeadline(ch);
  }

  clear(channelKey: string, now: number): number {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.idleSlot >= 0) return 0;
    const removed = (ch.open?.size ?? 0) + ch.queuedMessages();
    ch.open = null;
    ch.deadline = Infinity;
    ch.heapAt = Infinity;
    ch.queued = [];
    this.journal?.cleared(channelKey);
    ch.counters.cleared += removed;
    this.checkWarn(ch, now);
    this.emit({ type: QueueEventType.Cleared, channelKey, at: now, removed });
    this.evictIfIdle(ch);
    return removed;
  }

  drainWaiting(): MessageBatch[] {
    const out: MessageBatch[] = [];
    for (const ch of [...this.channels.values()]) {
      for (const e of ch.queued) out.push(e.batch);
      if (ch.open !== null) out.push(ch.open);
      ch.open = null;
      ch.deadline = Infinity;
      ch.queued = [];
      this.evictIfIdle(ch);
    }
    return out;
  }

  getOverride(channelKey: string): SettingsOverride | null {
    return this.channels.get(channelKey)?.override ?? null;
  }

  setOverride(channelKey: string, override: SettingsOverride, now: number): { deadline: number | null; settings: ChannelSettings } {
    const ch = this.state(channelKey);
    ch.override = { ...(ch.override ?? {}), ...override };
    this.journal?.override(channelKey, ch.override);
    return this.applySettings(ch, now);
  }

  deleteOverride(channelKey: string, now: number): { deadline: number | null; settings: ChannelSettings } | null {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.override === null) return null;
    ch.override = null;
    this.journal?.override(channelKey, null);
    const result = this.applySettings(ch, now);
    this.evictIfIdle(ch);
    return result;
  }

  /** New settings apply at once: an open window is re-timed (a shorter window flushes sooner). */
  private applySettings(ch: ChannelState, now: number): { deadline: number | null; settings: ChannelSettings } {
    ch.settings = this.policy.resolve(ch.key, ch.override);
    this.checkWarn(ch, now);
    if (ch.open === null || ch.deadline === Infinity) return { deadline: null, settings: ch.settings };
    return { deadline: this.openDeadline(ch), settings: ch.settings };
  }

  settings(channelKey: string): ChannelSettings {
    return this.channels.get(channelKey)?.settings ?? this.policy.resolve(channelKey);
  }

  stats(channelKey: string): ChannelStats | null {
    const ch = this.channels.get(channelKey);
    return ch === undefined ? null : this.toStats(ch);
  }

  private toStats(ch: ChannelState): ChannelStats {
    const { platform, channelId } = parseChannelKey(ch.key);
    return {
      key: ch.key,
      platform,
      channelId,
      pending: ch.open?.size ?? 0,
      queuedBatches: ch.queued.length,
      queuedMessages: ch.queuedMessages(),
      processing: ch.inFlight !== null,
      paused: ch.paused,
      settings: ch.settings,
      counters: { ...ch.counters },
      deadline: ch.deadline === Infinity ? null : ch.deadline,
      inFlight: ch.inFlight ? { batchId: ch.inFlight.batch.id, size: ch.inFlight.batch.size, startedAt: ch.inFlight.startedAt } : null,
      active: ch.idleSlot < 0,
    };
  }

  list(): ChannelStats[] {
    const out: ChannelStats[] = [];
    for (const ch of this.channels.values()) out.push(this.toStats(ch));
    return out;
  }

  /**
   * Installs channels recovered from the journal (nothing is told to the journal: it holds them already).
   * An in-flight batch comes back at the head of its queue as given (the journal counts its attempt).
   * Returns a seal per channel with something queued, for the engine to dispatch.
   */
  load(channels: DurableChannel[], now: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    for (const d of channels) {
      const ch = this.state(d.key);
      ch.override = d.override;
      ch.settings = this.policy.resolve(ch.key, ch.override);
      ch.paused = d.paused;
      const batches = d.inFlight ? [d.inFlight, ...d.queued] : d.queued;
      for (const b of batches) ch.queued.push(queuedEntry(liveBatch(d.key, b), now, ++this.seq, b.attempt, ch.settings));
      if (d.open !== null && d.open.messages.length > 0) {
        ch.open = liveBatch(d.key, d.open);
        this.openDeadline(ch);
      }
      if (ch.queued.length > 0) out.push(this.sealResult(ch, ch.queued.at(-1)!.batch, ch.queued.at(-1)!.batch.flushReason ?? 'shutdown'));
      else this.evictIfIdle(ch);
    }
    return out;
  }

  /** Every channel's durable state, as {@link load} takes it (the journal's tests compare the two). */
  export(): DurableChannel[] {
    const out: DurableChannel[] = [];
    for (const ch of this.channels.values()) {
      if (ch.idle) continue;
      out.push({
        key: ch.key,
        paused: ch.paused,
        override: ch.override,
        open: ch.open && ch.open.size > 0 ? durableBatch(ch.open, 1) : null,
        queued: ch.queued.map((e) => durableBatch(e.batch, e.attempt)),
        inFlight: ch.inFlight ? durableBatch(ch.inFlight.batch, ch.inFlight.attempt) : null,
      });
    }
    return out;
  }

  /** The engine's record of a channel held in memory (remembered idle ones included). */
  slotOf(channelKey: string): ChannelSlot | undefined {
    return this.channels.get(channelKey);
  }

  /** Every channel record held, for the engine's shutdown. */
  slots(): IterableIterator<ChannelSlot> {
    return this.channels.values();
  }

  activeChannels(): number {
    return this.channels.size - this.idleCount;
  }

  close(): void {
    this.heap.clear();
  }
}

/** A batch in the journal's form. */
export function durableBatch(batch: MessageBatch, attempt: number): DurableBatch {
  return { id: batch.id, reason: batch.flushReason, attempt, firstAt: batch.firstAt, lastAt: batch.lastAt, messages: batch.messages.map(messageToJSON) };
}

function liveBatch(channelKey: string, b: DurableBatch): MessageBatch {
  const batch = new MessageBatch(channelKey, { id: b.id, messages: b.messages.map((m) => ({ ...m })) });
  batch.firstAt = b.firstAt;
  batch.lastAt = b.lastAt;
  batch.flushReason = b.reason;
  return batch;
}
