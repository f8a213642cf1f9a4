import type { AppendResult, BatchStore, ChangeResult, ChannelStats, EmitQueueEvent, FinishOutcome, FinishResult, MessageEdit, SealResult, TakenBatch } from './batch-store.js';
import { ChannelState, durableBatch, liveBatch, queuedEntry } from './channel-state.js';
import { ChannelTable } from './channel-table.js';
import type { DurableChannel, StoreJournal } from './journal.js';
import { QueueEventType, type HoldCause } from './events.js';
import { OpenWindows } from './open-windows.js';
import { AnsweredBatches, changeMessage, changeWaiting, type AppliedChange } from './message-change.js';
import { QueueBounds } from './queue-bounds.js';
import { MessageBatch, channelKeyOf, type FlushReason, type QueuedMessage } from './model.js';
import type { ChannelSettings, SettingsOverride, SettingsPolicy } from './policy.js';
import type { ChannelSlot } from './ready-queue.js';

/** A seal of this store carries the channel's record, so the engine dispatches it without a look-up. */
export type LocalSealResult = SealResult & { slot: ChannelSlot };
/** {@link AppendResult} whose seal carries the channel's record. */
export type LocalAppendResult = AppendResult<LocalSealResult>;
/** {@link ChangeResult} whose seal carries the channel's record. */
export type LocalChangeResult = ChangeResult<LocalSealResult>;

/** Frozen answers for the common finish outcomes: nothing per batch to allocate. */
const NOT_CURRENT: FinishResult = Object.freeze({ current: false, nextSeq: null });
const NOTHING_NEXT: FinishResult = Object.freeze({ current: true, nextSeq: null });
const finished = (nextSeq: number | null): FinishResult => (nextSeq === null ? NOTHING_NEXT : { current: true, nextSeq });

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
  /** Answered batches remembered, so an edit of their messages is told `done`. @defaultValue 1000 */
  rememberAnswered?: number;
}

/**
 * The embedded store: plain objects in a Map and one deadline heap. Idle channels are evicted at once
 * (no timer, no state); a bounded LRU remembers the counters of the most recent ones for the admin API.
 */
export class InMemoryBatchStore implements BatchStore {
  /** The channel records, and the ring of remembered idle ones. */
  private readonly channels: ChannelTable;
  /** Open batches' deadlines and what holds them. */
  private readonly windows: OpenWindows;
  private readonly policy: SettingsPolicy;
  private readonly emit: EmitQueueEvent;
  /** The queue bound of each channel: overflow policy and the warn level. */
  private readonly bounds: QueueBounds;
  private readonly listening: () => boolean;
  private readonly journal: StoreJournal | undefined;
  private readonly answered: AnsweredBatches;
  private seq = 0;

  constructor(options: InMemoryBatchStoreOptions) {
    this.policy = options.policy;
    this.emit = options.emit;
    this.windows = new OpenWindows(options.emit);
    this.listening = options.listening ?? (() => true);
    this.journal = options.journal;
    this.bounds = new QueueBounds(options.emit, options.journal, options.queueWarnRatio ?? 0.75);
    this.channels = new ChannelTable(options.policy, options.rememberIdle ?? 1_000);
    this.answered = new AnsweredBatches(options.rememberAnswered ?? 1_000);
  }

  append(msg: QueuedMessage, now: number, channelKey: string = channelKeyOf(msg), group?: ChannelSettings): LocalAppendResult {
    const ch = this.channels.state(channelKey);
    if (group === undefined) {
      if (ch.settings.groupBy === 'author') {
        this.channels.evictIfIdle(ch);
        return { status: 'regroup', settings: ch.settings };
      }
    } else {
      // An author's batches follow the channel's settings as of its latest message (plus any override of the author's key).
      ch.base = group;
      ch.settings = ch.override === null ? group : Object.freeze({ ...group, ...ch.override });
    }
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
        this.appended(ch.key, ch.open.id, msg.id, false, now);
        return { status: 'sealed', sealed: this.sealOpen(ch, 'disabled', now, now), settings: s };
      }
      const batch = new MessageBatch(ch.key, { at: now });
      batch.add(msg, now);
      this.journal?.appended(ch.key, msg, batch.id);
      this.appended(ch.key, batch.id, msg.id, true, now);
      return { status: 'sealed', sealed: this.sealBatch(ch, batch, 'disabled', now, now), settings: s };
    }
    let open = ch.open;
    let opened: string | null = null;
    if (open === null) {
      open = ch.open = new MessageBatch(ch.key, { at: now });
      this.windows.opened(ch);
      opened = open.id;
    }
    open.add(msg, now);
    this.journal?.appended(ch.key, msg, opened);
    const turn = this.windows.turnOf(ch, msg);
    if (turn.flush || open.size >= s.maxBatchSize) {
      this.appended(ch.key, open.id, msg.id, opened !== null, now);
      return { status: 'sealed', sealed: this.sealOpen(ch, turn.flush ? 'keyword' : 'size', now, now), settings: s };
    }
    const deadline = this.windows.appended(ch, turn, now);
    this.appended(ch.key, open.id, msg.id, opened !== null, now, deadline);
    return { status: 'open', pending: open.size, deadline, settings: s };
  }

  /** `message.appended`, built only while someone listens (one object per message on the hot path). */
  private appended(channelKey: string, batchId: string, messageId: string, opened: boolean, now: number, deadline?: number): void {
    if (!this.listening()) return;
    this.emit({ type: QueueEventType.Appended, channelKey, at: now, batchId, messageId, opened, ...(deadline === undefined ? {} : { deadline }) });
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
    this.bounds.push(ch, entry, now);
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

  sealDue(now: number, limit: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    for (const ch of this.windows.due(now, limit)) {
      const reason: FlushReason = ch.deadline >= ch.open!.firstAt + ch.settings.maxWaitMs ? 'maxWait' : 'window';
      out.push(this.sealOpen(ch, reason, ch.deadline, now));
    }
    return out;
  }

  nextDeadline(): number | null {
    return this.windows.next();
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
    const ch = this.channels.state(channelKey);
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
    this.bounds.check(ch, now);
    return this.sealResult(ch, batch, 'admin');
  }

  restore(batches: MessageBatch[], now: number): LocalSealResult[] {
    const out: LocalSealResult[] = [];
    for (const batch of batches) {
      if (batch.size === 0) continue;
      const ch = this.channels.state(batch.channelKey);
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
    this.bounds.check(ch, now);
    return entry;
  }

  private next(ch: ChannelState): number | null {
    return !ch.paused && ch.inFlight === null && ch.queued.length > 0 ? ch.queued[0]!.seq : null;
  }

  finish(channelKey: string, batchId: string, outcome: FinishOutcome, _now?: number, slot?: ChannelSlot): FinishResult {
    const ch = this.stateOf(channelKey, slot);
    if (!ch || ch.inFlight?.batch.id !== batchId) return NOT_CURRENT;
    this.answered.add(ch.inFlight.batch);
    ch.inFlight = null;
    this.journal?.finished(ch.key);
    ch.counters[outcome]++;
    const nextSeq = this.next(ch);
    this.channels.evictIfIdle(ch);
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
    // A batch whose every message was deleted while it ran leaves nothing to re-run.
    ch.queued = merged.size > 0 ? [queuedEntry(merged, interrupted.sealedAt, interrupted.seq, interrupted.attempt + 1, ch.settings)] : [];
    this.journal?.interrupted(channelKey, merged.id);
    this.bounds.check(ch, now);
    this.emit({ type: QueueEventType.Interrupted, channelKey, at: now, batchId, size: interrupted.batch.size });
    const nextSeq = this.next(ch);
    this.channels.evictIfIdle(ch);
    return finished(nextSeq);
  }

  steer(channelKey: string, batchId: string, now: number): QueuedMessage[] {
    const ch = this.channels.get(channelKey);
    const flight = ch?.inFlight;
    if (!ch || !flight || flight.batch.id !== batchId || ch.settings.mode !== 'steer' || ch.queued.length === 0) return [];
    const taken = ch.queued.flatMap((e) => e.batch.messages);
    // A new batch object under the same id: the run keeps the batch it was given, the store holds all.
    const carried = new MessageBatch(channelKey, { id: batchId, at: flight.batch.firstAt, messages: [...flight.batch.messages, ...taken] });
    carried.firstAt = flight.batch.firstAt;
    carried.lastAt = Math.max(flight.batch.lastAt, ch.queued.at(-1)!.batch.lastAt);
    carried.flushReason = flight.batch.flushReason;
    flight.batch = carried;
    ch.queued = [];
    // The journal says it with the steps it has: everything becomes one batch with the in-flight id (its
    // attempt + 1), which goes in flight again.
    flight.attempt++;
    this.journal?.interrupted(channelKey, batchId);
    this.journal?.taken(channelKey);
    this.bounds.check(ch, now);
    this.emit({ type: QueueEventType.Steered, channelKey, at: now, batchId, messageIds: taken.map((m) => m.id) });
    return taken;
  }

  release(channelKey: string, batchId: string, now: number): FinishResult {
    const ch = this.channels.get(channelKey);
    if (!ch || ch.inFlight?.batch.id !== batchId) return NOT_CURRENT;
    const entry = ch.inFlight;
    ch.inFlight = null;
    entry.attempt++; // the processor saw it: the next run is another attempt
    ch.queued.unshift(entry);
    this.journal?.released(channelKey);
    this.bounds.check(ch, now);
    return finished(this.next(ch));
  }

  pause(channelKey: string, now: number): boolean {
    const ch = this.channels.known(channelKey);
    if (!ch) return false;
    if (!ch.paused) {
      ch.paused = true;
      this.journal?.paused(channelKey, true);
      this.emit({ type: QueueEventType.Paused, channelKey, at: now, cancelled: false });
    }
    return true;
  }

  resume(channelKey: string, now: number): { nextSeq: number | null } | undefined {
    const ch = this.channels.known(channelKey);
    if (!ch) return undefined;
    if (ch.paused) {
      ch.paused = false;
      this.journal?.paused(channelKey, false);
      this.emit({ type: QueueEventType.Resumed, channelKey, at: now });
    }
    const nextSeq = this.next(ch);
    this.channels.evictIfIdle(ch);
    return { nextSeq };
  }

  disarm(channelKey: string): boolean {
    return this.windows.disarm(this.channels.get(channelKey));
  }

  hold(channelKey: string, holdMs: number, now: number, reason?: HoldCause): number | null {
    return this.windows.hold(this.channels.get(channelKey), holdMs, now, reason);
  }

  typing(channelKey: string, userId: string, now: number): number | null {
    return this.windows.typing(this.channels.get(channelKey), userId, now);
  }

  change(channelKey: string, messageId: string, edit: MessageEdit | null, now: number): LocalChangeResult {
    const applied: AppliedChange = edit === null ? null : { text: edit.text, editedAt: now };
    const result = this.applyChange(channelKey, messageId, edit, applied, now);
    const type = edit === null ? QueueEventType.Deleted : QueueEventType.Edited;
    this.emit({ type, channelKey, at: now, messageId, applied: result.applied, ...(result.batchId !== undefined ? { batchId: result.batchId } : {}) });
    return result;
  }

  private applyChange(channelKey: string, messageId: string, edit: MessageEdit | null, applied: AppliedChange, now: number): LocalChangeResult {
    const ch = this.channels.get(channelKey);
    if (ch !== undefined && ch.idleSlot < 0) {
      const hit = changeWaiting(ch.open, ch.queued.map((e) => e.batch), messageId, applied);
      if (hit !== null) {
        this.journal?.changed(channelKey, messageId, applied);
        let batchId: string;
        if (hit.where === 'open') {
          const open = ch.open!;
          batchId = open.id;
          if (open.size === 0) {
            ch.open = null;
            ch.deadline = Infinity;
            ch.heapAt = Infinity;
          }
        } else {
          batchId = ch.queued[hit.index]!.batch.id;
          if (ch.queued[hit.index]!.batch.size === 0) {
            ch.queued.splice(hit.index, 1);
            this.bounds.check(ch, now);
          }
        }
        this.channels.evictIfIdle(ch);
        return { applied: 'pending', batchId };
      }
      const flight = ch.inFlight;
      const index = flight?.batch.messages.findIndex((m) => m.id === messageId) ?? -1;
      if (flight !== null && index >= 0) {
        const batchId = flight.batch.id;
        if (ch.settings.mode === 'interrupt') {
          changeMessage(flight.batch.messages, messageId, applied);
          this.journal?.changed(channelKey, messageId, applied);
          return { applied: 'in-flight', batchId, abort: true };
        }
        // Queue mode: the run keeps the text it has; an edited message runs again as the next batch.
        if (applied === null) return { applied: 'in-flight', batchId };
        const sealed = this.pushFront(channelKey, this.followUp(channelKey, flight.batch.messages[index]!, applied, now), now);
        return { applied: 'in-flight', batchId, sealed };
      }
    }
    const done = this.answered.find(channelKey, messageId);
    if (done === null) return { applied: 'unknown' };
    const settings = ch?.settings ?? this.policy.resolve(channelKey);
    if (applied === null || settings.editAfterReply !== 'followUp') return { applied: 'done', batchId: done.batch.id };
    const [sealed] = this.restore([this.followUp(channelKey, done.batch.messages[done.index]!, applied, now)], now);
    return { applied: 'done', batchId: done.batch.id, ...(sealed !== undefined ? { sealed } : {}) };
  }

  /** A one-message batch that runs an edited message again (`edited: true`). */
  private followUp(channelKey: string, original: QueuedMessage, change: NonNullable<AppliedChange>, now: number): MessageBatch {
    const batch = new MessageBatch(channelKey, { at: now });
    const { raw: _raw, ...json } = original;
    batch.add({ ...json, text: change.text, editedAt: change.editedAt, edited: true, queuedAt: now }, now);
    batch.flushReason = 'admin';
    return batch;
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
    this.bounds.check(ch, now);
    this.emit({ type: QueueEventType.Cleared, channelKey, at: now, removed });
    this.channels.evictIfIdle(ch);
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
      this.channels.evictIfIdle(ch);
    }
    return out;
  }

  getOverride(channelKey: string): SettingsOverride | null {
    return this.channels.get(channelKey)?.override ?? null;
  }

  setOverride(channelKey: string, override: SettingsOverride, now: number): { deadline: number | null; settings: ChannelSettings } {
    const ch = this.channels.state(channelKey);
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
    this.channels.evictIfIdle(ch);
    return result;
  }

  /** New settings apply at once: an open window is re-timed (a shorter window flushes sooner). */
  private applySettings(ch: ChannelState, now: number): { deadline: number | null; settings: ChannelSettings } {
    ch.settings = ch.base === null ? this.policy.resolve(ch.key, ch.override) : Object.freeze({ ...ch.base, ...ch.override });
    this.bounds.check(ch, now);
    if (ch.open === null || ch.deadline === Infinity) return { deadline: null, settings: ch.settings };
    return { deadline: this.windows.arm(ch), settings: ch.settings };
  }

  settings(channelKey: string): ChannelSettings {
    return this.channels.get(channelKey)?.settings ?? this.policy.resolve(channelKey);
  }

  stats(channelKey: string): ChannelStats | null {
    return this.channels.get(channelKey)?.toStats() ?? null;
  }

  list(): ChannelStats[] {
    const out: ChannelStats[] = [];
    for (const ch of this.channels.values()) out.push(ch.toStats());
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
      const ch = this.channels.state(d.key);
      ch.override = d.override;
      ch.settings = this.policy.resolve(ch.key, ch.override);
      ch.paused = d.paused;
      const batches = d.inFlight ? [d.inFlight, ...d.queued] : d.queued;
      for (const b of batches) ch.queued.push(queuedEntry(liveBatch(d.key, b), now, ++this.seq, b.attempt, ch.settings));
      if (d.open !== null && d.open.messages.length > 0) {
        ch.open = liveBatch(d.key, d.open);
        this.windows.arm(ch);
      }
      if (ch.queued.length > 0) out.push(this.sealResult(ch, ch.queued.at(-1)!.batch, ch.queued.at(-1)!.batch.flushReason ?? 'shutdown'));
      else this.channels.evictIfIdle(ch);
    }
    return out;
  }

  /** Every channel's durable state, as {@link load} takes it (the journal's tests compare the two). */
  export(): DurableChannel[] {
    const out: DurableChannel[] = [];
    for (const ch of this.channels.values()) if (!ch.idle) out.push(ch.toDurable());
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
    return this.channels.activeCount;
  }

  close(): void {
    this.windows.heap.clear();
  }
}

// The journal's batch form, exported here where the state module has always imported it.
export { durableBatch } from './channel-state.js';
