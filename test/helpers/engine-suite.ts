import { describe, expect, it, onTestFinished } from 'vitest';
import type { BatchingEngine } from '../../src/core/engine.js';
import { ErrorCode, GatewayError, InvalidMessageError, InvalidSettingsError, UnknownChannelError } from '../../src/errors.js';
import { QueueEventType, type QueueEvent } from '../../src/core/events.js';
import type { EnqueueResult } from '../../src/core/message-queue.js';
import { MessageBatch, type OutboundMessage } from '../../src/core/model.js';
import type { ChannelSettings } from '../../src/core/policy.js';
import type { ProcessContext } from '../../src/processors/processor.js';
import { describeEditCases } from './engine-suite-edits.js';

export type EngineKind = 'embedded' | 'distributed';

export interface HarnessOptions {
  /** The channels' default settings (`batching.defaults`). */
  settings?: Partial<ChannelSettings>;
  /** @defaultValue 8 */
  maxConcurrentBatches?: number;
}

/** One processor call, held or finished by the case. */
export interface ControlledRun {
  readonly batch: MessageBatch;
  readonly ctx: ProcessContext;
  readonly ids: string[];
  readonly texts: string[];
  readonly attempt: number;
  /** Resolves with the signal's reason once `ctx.signal` aborts (never, if it does not). */
  readonly aborted: Promise<unknown>;
  /** `ctx.reply(text)`: resolves false once the run was aborted. */
  reply(text: string): Promise<boolean>;
  /** Lets the processor resolve, by default after replying its texts joined with `+`. Once per run. */
  finish(options?: { reply?: boolean }): void;
  /** Makes the processor reject with `error`. */
  fail(error: unknown): void;
}

/** An engine with a controllable processor, and what a user of it can observe. */
export interface EngineHarness {
  readonly kind: EngineKind;
  readonly engine: BatchingEngine;
  /** Processor calls in start order. Unheld runs reply `texts.join('+')` and resolve at once. */
  readonly runs: ControlledRun[];
  /** Replies as the gateway would deliver them, in delivery order. */
  readonly replies: OutboundMessage[];
  /** Everything the engine's `on()` reported. */
  readonly events: QueueEvent[];
  /** Channel keys of `ctx.typing()` requests that reached the gateway's typing hook. */
  readonly typingRequests: string[];
  /** `webhook:<channelId>`: every message the harness sends is on platform `webhook`. */
  key(channelId: string): string;
  /** A raw message as an adapter passes it to `enqueue`; ids are unique unless given. */
  message(channelId: string, text: string, id?: string): Record<string, unknown>;
  send(channelId: string, text: string, id?: string): Promise<EnqueueResult>;
  /** Runs started from now on wait for `finish`/`fail` (all of them, or those the predicate picks). */
  hold(on: boolean | ((batch: MessageBatch) => boolean)): void;
  /** Waits for the `index`-th (0-based) run to start. */
  run(index: number): Promise<ControlledRun>;
  waitReplies(n: number): Promise<OutboundMessage[]>;
  /** Waits for an event of this type (one already seen counts). */
  waitEvent<T extends QueueEvent['type']>(type: T, match?: (e: Extract<QueueEvent, { type: T }>) => boolean): Promise<Extract<QueueEvent, { type: T }>>;
  eventsOf<T extends QueueEvent['type']>(type: T): Array<Extract<QueueEvent, { type: T }>>;
  /** Waits until `check` holds, checking again on every event, run and reply. */
  until(what: string, check: () => boolean | Promise<boolean>): Promise<void>;
  /** Lets held runs go and closes everything the harness started. Idempotent. */
  close(): Promise<void>;
}

/**
 * Where the two engines legitimately differ, by their documentation; each case that touches one asserts
 * the side its engine documents.
 */
export interface EngineTraits {
  /**
   * The engine refuses a message id it already accepted (`duplicate`). Distributed: the Redis store
   * remembers ids for `distributed.dedupeTtlMs` (docs/distributed.md), since a retry may reach another
   * gateway. Embedded: the adapters dedupe (`src/core/recent-keys.ts`), the engine takes what it is given.
   */
  refusesDuplicateIds: boolean;
  /**
   * What `drain` does with what still waits. `hand-back`: embedded seals open windows (flushReason
   * `shutdown`), runs them within the timeout and hands back what could not run (paused channels' queues)
   * for the journal. `leave-in-redis`: distributed leaves open windows and queues in Redis for the other
   * gateways and hands back nothing (docs/ARCHITECTURE.md, "Shutdown of a gateway leaves its state in Redis").
   */
  drain: 'hand-back' | 'leave-in-redis';
}

export interface EngineSetup {
  kind: EngineKind;
  traits: EngineTraits;
  makeHarness(options?: HarnessOptions): Promise<EngineHarness>;
}

/** Settings most cases use: a short window, so batches seal soon without an explicit flush. */
const SHORT = { windowMs: 40, maxWaitMs: 5_000, maxBatchSize: 10 } as const;
/** A window that never closes within a case: batches seal only through `flush`, size or an override. */
const LONG = { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 10 } as const;
/** One message, one batch: runs follow messages one to one. */
const EACH = { disabled: true, windowMs: 40, maxWaitMs: 5_000 } as const;

/** A batch of channel `webhook:<channelId>` as a spool or an operator hands it over; each text is its message's id. */
function sealedBatch(channelId: string, texts: string[]): MessageBatch {
  const batch = new MessageBatch(`webhook:${channelId}`);
  for (const text of texts) {
    batch.add({ id: text, platform: 'webhook', channelId, userId: 'u', userName: 'U', text, queuedAt: Date.now(), extra: {} }, Date.now());
  }
  return batch;
}

const codeOf = (reason: unknown): unknown => (reason as GatewayError | undefined)?.code;
const accepted = (r: EnqueueResult) => expect(r).toMatchObject({ accepted: true });

/**
 * The behaviour every {@link BatchingEngine} must show, run against each engine with a real processor
 * (embedded: in this process; distributed: a BullMQ worker on real Redis). Cases wait for the engine's
 * events, the processor's calls and the replies, never for time to pass.
 */
export function describeEngineContract(name: string, setup: EngineSetup): void {
  const { kind, traits } = setup;
  const make = async (options: HarnessOptions = {}): Promise<EngineHarness> => {
    const h = await setup.makeHarness(options);
    onTestFinished(() => h.close());
    return h;
  };

  describe(`BatchingEngine contract: ${name}`, () => {
    describe('intake', () => {
      it('accepts a message into an open window: the answer names the channel, the id, the deadline and the pending count', async () => {
        const h = await make({ settings: LONG });
        const before = Date.now();
        const first = await h.send('room', 'hello', 'm1');
        const after = Date.now();
        expect(first).toMatchObject({ accepted: true, channelKey: h.key('room'), id: 'm1', pending: 1, typing: true });
        // The deadline is on this process's clock (distributed converts it from Redis time: allow for that).
        const deadline = first.accepted ? first.deadline! : 0;
        expect(deadline).toBeGreaterThanOrEqual(before + LONG.windowMs - 1_000);
        expect(deadline).toBeLessThanOrEqual(after + LONG.windowMs + 1_000);
        expect(await h.send('room', 'again', 'm2')).toMatchObject({ accepted: true, pending: 2 });
        expect(h.runs).toHaveLength(0);
      });

      it('bad input is refused with a typed error naming the field, and nothing is enqueued', async () => {
        const h = await make({ settings: LONG });
        const err = await h.engine.enqueue({ id: 'x', platform: 'webhook', channelId: 'room', userId: 'u' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidMessageError);
        expect((err as InvalidMessageError).code).toBe(ErrorCode.InvalidMessage);
        expect((err as InvalidMessageError).issues.map((i) => i.path)).toContain('text');
        await expect(h.engine.enqueue('not an object')).rejects.toBeInstanceOf(InvalidMessageError);
        await expect(h.engine.enqueueFront({ platform: 'webhook' })).rejects.toBeInstanceOf(InvalidMessageError);
        expect(await h.engine.stats(h.key('room'))).toBeNull();
      });

      it(traits.refusesDuplicateIds ? 'a repeated message id is answered duplicate and runs once' : 'a repeated message id is taken again (the adapters dedupe before the engine)', async () => {
        const h = await make({ settings: SHORT });
        accepted(await h.send('room', 'once', 'same'));
        const again = await h.send('room', 'once', 'same');
        if (traits.refusesDuplicateIds) {
          expect(again).toEqual({ accepted: false, reason: 'duplicate', channelKey: h.key('room'), id: 'same' });
        } else {
          expect(again).toMatchObject({ accepted: true, id: 'same' });
        }
        await h.waitReplies(1);
        await h.send('room', 'after', 'later');
        await h.until('the later message replied', () => h.replies.some((r) => r.inReplyTo?.includes('later')));
        const ranIds = h.runs.flatMap((r) => r.ids).filter((id) => id === 'same');
        expect(ranIds).toHaveLength(traits.refusesDuplicateIds ? 1 : 2);
      });

      it('a burst inside the window becomes one batch, sealed by the window, with one reply to every message', async () => {
        const h = await make({ settings: { ...SHORT, windowMs: 200 } });
        for (const t of ['a', 'b', 'c']) accepted(await h.send('room', t, t));
        const [reply] = await h.waitReplies(1);
        const flushed = await h.waitEvent(QueueEventType.Flushed);
        // On a loaded machine the three sends may straddle the window; what must hold is that nothing is lost or reordered.
        // The first reply may then be of 'a' alone: wait for every message to have run before comparing.
        await h.until('every message ran', () => h.runs.flatMap((r) => r.texts).length >= 3);
        expect(h.runs.flatMap((r) => r.texts)).toEqual(['a', 'b', 'c']);
        if (h.runs.length === 1) {
          expect(reply).toMatchObject({ platform: 'webhook', channelId: 'room', text: 'a+b+c', inReplyTo: ['a', 'b', 'c'] });
          expect(flushed).toMatchObject({ channelKey: h.key('room'), size: 3, reason: 'window' });
        }
      });

      it('reports a batch’s life: flushed, started (waitMs, message ids), completed (reply count)', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'a', 'a');
        await h.send('room', 'b', 'b');
        expect(await h.engine.flush(h.key('room'))).toBe(true);
        const completed = await h.waitEvent(QueueEventType.Completed);
        const flushed = h.eventsOf(QueueEventType.Flushed)[0]!;
        const started = h.eventsOf(QueueEventType.Started)[0]!;
        expect(flushed).toMatchObject({ channelKey: h.key('room'), size: 2, reason: 'admin' });
        expect(started).toMatchObject({ channelKey: h.key('room'), batchId: flushed.batchId, size: 2, messageIds: ['a', 'b'] });
        expect(started.waitMs).toBeGreaterThanOrEqual(0);
        expect(completed).toMatchObject({ channelKey: h.key('room'), batchId: flushed.batchId, size: 2, replies: 1 });
        expect(completed.durationMs).toBeGreaterThanOrEqual(0);
        expect(h.runs[0]!.attempt).toBe(1);
        expect(h.runs[0]!.ctx.channel).toMatchObject({ key: h.key('room'), platform: 'webhook', channelId: 'room' });
        expect(h.runs[0]!.ctx.channel.settings.windowMs).toBe(LONG.windowMs);
      });
    });

    describe('order and flight', () => {
      it('keeps strict order across batches: replies come back in the order the messages were accepted', async () => {
        const h = await make({ settings: EACH });
        const ids = ['1', '2', '3', '4', '5', '6'];
        for (const id of ids) accepted(await h.send('room', id, id));
        await h.waitReplies(ids.length);
        expect(h.runs.map((r) => r.ids)).toEqual(ids.map((id) => [id]));
        expect(h.replies.map((r) => r.inReplyTo)).toEqual(ids.map((id) => [id]));
      });

      it('loses and repeats nothing: every message sent to interleaved channels is answered once, in its channel’s order', async () => {
        const h = await make({ settings: { windowMs: 20, maxWaitMs: 200, maxBatchSize: 3 } });
        const channels = ['a', 'b', 'c'];
        const sent: Record<string, string[]> = { a: [], b: [], c: [] };
        for (let n = 0; n < 8; n++) {
          for (const ch of channels) {
            const id = `${ch}${n}`;
            accepted(await h.send(ch, id, id));
            sent[ch]!.push(id);
          }
        }
        await h.until('every message answered', () => h.replies.flatMap((r) => r.inReplyTo ?? []).length === 24);
        for (const ch of channels) {
          expect(h.replies.filter((r) => r.channelId === ch).flatMap((r) => r.inReplyTo)).toEqual(sent[ch]);
          expect(h.runs.filter((r) => r.batch.channelKey === h.key(ch)).flatMap((r) => r.ids)).toEqual(sent[ch]);
        }
        expect(h.runs.every((r) => r.batch.size <= 3)).toBe(true);
      });

      it('runs one batch per channel at a time, while other channels run alongside', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('a', 'a1');
        await h.send('a', 'a2');
        await h.send('a', 'a3');
        const a1 = await h.run(0);
        await h.send('b', 'b1');
        const b1 = await h.run(1);
        expect(b1.texts).toEqual(['b1']);
        // b1 started after a2 and a3 were sealed: a second batch of channel a could have started too, and did not.
        expect(h.runs.map((r) => r.texts)).toEqual([['a1'], ['b1']]);
        expect(await h.engine.stats(h.key('a'))).toMatchObject({ processing: true, queuedBatches: 2 });
        a1.finish();
        const a2 = await h.run(2);
        expect(a2.texts).toEqual(['a2']);
        expect(h.runs).toHaveLength(3);
        a2.finish();
        (await h.run(3)).finish();
        b1.finish();
        await h.waitReplies(4);
        expect(h.replies.filter((r) => r.channelId === 'a').map((r) => r.text)).toEqual(['a1', 'a2', 'a3']);
      });

      it('queue mode: a batch sealed while another runs waits behind it; the running one is not aborted', async () => {
        const h = await make({ settings: LONG });
        h.hold(true);
        await h.send('room', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        await h.send('room', 'two');
        await h.engine.flush(h.key('room'));
        await h.until('the second batch queued', async () => (await h.engine.stats(h.key('room')))?.queuedBatches === 1);
        expect(first.ctx.signal.aborted).toBe(false);
        expect(h.eventsOf(QueueEventType.Interrupted)).toEqual([]);
        first.finish();
        const second = await h.run(1);
        expect(second.texts).toEqual(['two']);
        expect(second.attempt).toBe(1);
        second.finish();
        await h.waitReplies(2);
        expect(h.replies.map((r) => r.text)).toEqual(['one', 'two']);
      });

      it('interrupt mode: a newer batch aborts the running one, whose messages re-run merged in front, as another attempt', async () => {
        const h = await make({ settings: { ...LONG, mode: 'interrupt' } });
        h.hold((batch) => batch.size === 1);
        await h.send('room', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        expect(first.attempt).toBe(1);
        await h.send('room', 'two');
        await h.engine.flush(h.key('room'));
        expect(codeOf(await first.aborted)).toBe(ErrorCode.Cancelled);
        const interrupted = await h.waitEvent(QueueEventType.Interrupted);
        expect(interrupted).toMatchObject({ channelKey: h.key('room'), batchId: first.batch.id });
        const merged = await h.run(1);
        expect(merged.texts).toEqual(['one', 'two']);
        expect(merged.attempt).toBeGreaterThanOrEqual(2);
        const [reply] = await h.waitReplies(1);
        expect(reply!.inReplyTo).toEqual(first.ids.concat(merged.ids.slice(1)));
        // The aborted run can no longer answer.
        expect(await first.reply('too late')).toBe(false);
        expect(await h.waitEvent(QueueEventType.ReplyDropped)).toMatchObject({ batchId: first.batch.id, reason: 'cancelled' });
        expect(h.replies.map((r) => r.text)).toEqual(['one+two']);
        expect(h.eventsOf(QueueEventType.Cancelled)).toEqual([]);
      });

      it('interrupt mode: each interrupt of a re-run counts one more attempt', async () => {
        const h = await make({ settings: { ...LONG, mode: 'interrupt' } });
        h.hold((batch) => batch.size < 3);
        await h.send('room', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        await h.send('room', 'two');
        await h.engine.flush(h.key('room'));
        await first.aborted;
        const second = await h.run(1);
        expect(second.texts).toEqual(['one', 'two']);
        await h.send('room', 'three');
        await h.engine.flush(h.key('room'));
        await second.aborted;
        const third = await h.run(2);
        expect(third.texts).toEqual(['one', 'two', 'three']);
        expect([first.attempt, second.attempt, third.attempt]).toEqual([1, 2, 3]);
        await h.waitReplies(1);
        expect(h.eventsOf(QueueEventType.Interrupted).map((e) => e.batchId)).toEqual([first.batch.id, second.batch.id]);
      });

      it('steer mode: a run that takes what arrived between two slow steps gets it in order and answers once; nothing of it runs again', async () => {
        const h = await make({ settings: { ...LONG, mode: 'steer' } });
        h.hold(true);
        await h.send('room', 'one', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        // The first slow step is under way; the person adds two lines, sealed as one batch.
        const woke = new Promise<void>((resolve) => first.ctx.onSteer!(resolve));
        await h.send('room', 'two', 'two');
        await h.send('room', 'three', 'three');
        await h.engine.flush(h.key('room'));
        await woke;
        expect(first.ctx.signal.aborted).toBe(false);
        // Between the two steps the bot takes them.
        const taken = await first.ctx.steered!();
        expect(taken.map((m) => m.text)).toEqual(['two', 'three']);
        expect(await first.ctx.steered!()).toEqual([]);
        expect(await h.waitEvent(QueueEventType.Steered)).toMatchObject({ channelKey: h.key('room'), batchId: first.batch.id, messageIds: ['two', 'three'] });
        expect(await h.engine.stats(h.key('room'))).toMatchObject({ queuedBatches: 0, queuedMessages: 0, processing: true });
        // A line after the take is offered too, and left: it runs as the next batch.
        await h.send('room', 'four', 'four');
        await h.engine.flush(h.key('room'));
        await h.until('the fourth line waits', async () => (await h.engine.stats(h.key('room')))?.queuedBatches === 1);
        expect(await first.reply([...first.texts, ...taken.map((m) => m.text)].join('+'))).toBe(true);
        first.finish({ reply: false });
        const next = await h.run(1);
        expect(next.ids).toEqual(['four']);
        next.finish();
        await h.waitReplies(2);
        expect(h.replies.map((r) => r.text)).toEqual(['one+two+three', 'four']);
        // The answer names every message it answers, the taken ones too.
        expect(h.replies.map((r) => r.inReplyTo)).toEqual([['one', 'two', 'three'], ['four']]);
        expect(h.runs.flatMap((r) => r.ids)).toEqual(['one', 'four']);
        expect(h.eventsOf(QueueEventType.Interrupted)).toEqual([]);
      });

      it('steer mode: what the run never takes runs next, batch by batch, in order', async () => {
        const h = await make({ settings: { ...LONG, mode: 'steer' } });
        h.hold(true);
        await h.send('room', 'one', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        let wakes = 0;
        first.ctx.onSteer!(() => wakes++);
        for (const t of ['two', 'three']) {
          await h.send('room', t, t);
          await h.engine.flush(h.key('room'));
        }
        await h.until('two batches wait', async () => (await h.engine.stats(h.key('room')))?.queuedBatches === 2);
        await h.until('the run heard of both', () => wakes === 2);
        first.finish();
        const second = await h.run(1);
        expect(second.ids).toEqual(['two']);
        second.finish();
        const third = await h.run(2);
        expect(third.ids).toEqual(['three']);
        third.finish();
        await h.waitReplies(3);
        expect(h.replies.map((r) => r.text)).toEqual(['one', 'two', 'three']);
        expect(h.eventsOf(QueueEventType.Steered)).toEqual([]);
        // A run that ended takes nothing.
        expect(await first.ctx.steered!()).toEqual([]);
      });

      it('queue mode: ctx.steered() takes nothing; the batch waits behind the run', async () => {
        const h = await make({ settings: LONG });
        h.hold(true);
        await h.send('room', 'one', 'one');
        await h.engine.flush(h.key('room'));
        const first = await h.run(0);
        await h.send('room', 'two', 'two');
        await h.engine.flush(h.key('room'));
        await h.until('the second batch queued', async () => (await h.engine.stats(h.key('room')))?.queuedBatches === 1);
        expect(await first.ctx.steered!()).toEqual([]);
        first.finish();
        (await h.run(1)).finish();
        await h.waitReplies(2);
        expect(h.replies.map((r) => r.text)).toEqual(['one', 'two']);
      });

      it('the abort reason says why on a field: an operator’s cancel, stop, or a newer batch (interrupt)', async () => {
        const h = await make({ settings: { ...LONG, mode: 'interrupt' } });
        h.hold((batch) => batch.size === 1);
        const started = async (channelId: string, index: number) => {
          await h.send(channelId, channelId);
          await h.engine.flush(h.key(channelId));
          return h.run(index);
        };
        const cancelled = await started('c', 0);
        await h.engine.cancelCurrent(h.key('c'));
        const stopped = await started('s', 1);
        await h.engine.stop(h.key('s'));
        const interrupted = await started('i', 2);
        await h.send('i', 'newer');
        await h.engine.flush(h.key('i'));
        const why = async (run: ControlledRun) => {
          const reason = (await run.aborted) as GatewayError;
          return [reason.code, reason.details.reason];
        };
        expect(await why(cancelled)).toEqual([ErrorCode.Cancelled, 'cancel']);
        expect(await why(stopped)).toEqual([ErrorCode.Cancelled, 'stop']);
        expect(await why(interrupted)).toEqual([ErrorCode.Cancelled, 'interrupt']);
      });

      it('interrupt mode with nothing in flight runs the batch as usual', async () => {
        const h = await make({ settings: { ...SHORT, mode: 'interrupt' } });
        await h.send('room', 'alone');
        await h.waitReplies(1);
        expect(h.runs.map((r) => [r.texts, r.attempt])).toEqual([[['alone'], 1]]);
        expect(h.eventsOf(QueueEventType.Interrupted)).toEqual([]);
      });

      it('front insert goes ahead of every waiting batch, never ahead of the one in flight', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('room', 'first');
        const first = await h.run(0);
        await h.send('room', 'second');
        await h.send('room', 'third');
        const front = await h.engine.enqueueFront(h.message('room', 'urgent', 'urgent'));
        expect(front).toMatchObject({ accepted: true, channelKey: h.key('room'), id: 'urgent' });
        expect(first.ctx.signal.aborted).toBe(false);
        h.hold(false);
        first.finish();
        await h.waitReplies(4);
        expect(h.runs.map((r) => r.texts)).toEqual([['first'], ['urgent'], ['second'], ['third']]);
      });

      it('front insert of a sealed batch keeps it whole; an empty batch is refused with a typed error', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('room', 'first');
        const first = await h.run(0);
        await h.send('room', 'queued');
        accepted(await h.engine.enqueueFront(sealedBatch('room', ['f1', 'f2'])));
        const empty = await h.engine.enqueueFront(new MessageBatch(h.key('room'))).catch((e: unknown) => e);
        expect(empty).toBeInstanceOf(GatewayError);
        expect((empty as GatewayError).code).toBe(ErrorCode.EmptyBatch);
        h.hold(false);
        first.finish();
        await h.waitReplies(3);
        expect(h.runs.map((r) => r.texts)).toEqual([['first'], ['f1', 'f2'], ['queued']]);
      });
    });

    describe('operator actions', () => {
      it('cancelCurrent aborts the run with a cancelled reason, reports it, and the channel moves on', async () => {
        const h = await make({ settings: EACH });
        h.hold((batch) => batch.messages[0]!.text === 'slow');
        expect(await h.engine.cancelCurrent(h.key('room'))).toBe(false);
        await h.send('room', 'slow');
        await h.send('room', 'next');
        const slow = await h.run(0);
        expect(await h.engine.cancelCurrent(h.key('room'))).toBe(true);
        expect(codeOf(await slow.aborted)).toBe(ErrorCode.Cancelled);
        const cancelled = await h.waitEvent(QueueEventType.Cancelled);
        expect(cancelled).toMatchObject({ channelKey: h.key('room'), batchId: slow.batch.id, size: 1, reason: 'cancel' });
        // The channel is released at once, although this processor ignores its signal and never settles.
        await h.waitReplies(1);
        expect(h.replies.map((r) => r.text)).toEqual(['next']);
        expect((await h.engine.stats(h.key('room')))?.counters.cancelled).toBe(1);
        expect(await h.engine.cancelCurrent(h.key('room'))).toBe(false);
        // A cancelled batch is not a failure.
        expect(await h.engine.deadLetters(10)).toEqual([]);
        expect(h.eventsOf(QueueEventType.Failed)).toEqual([]);
      });

      it('fence: a cancelled batch’s late reply is dropped and counted, never delivered', async () => {
        const h = await make({ settings: EACH });
        h.hold((batch) => batch.messages[0]!.text === 'slow');
        await h.send('room', 'slow');
        const slow = await h.run(0);
        expect(await h.engine.cancelCurrent(h.key('room'))).toBe(true);
        await slow.aborted;
        expect(await slow.reply('too late')).toBe(false);
        const dropped = await h.waitEvent(QueueEventType.ReplyDropped);
        expect(dropped).toMatchObject({ channelKey: h.key('room'), batchId: slow.batch.id, reason: 'cancelled' });
        await h.until('the drop counted', () => h.engine.totals().repliesDropped === 1);
        // A later batch's reply arrives; the late one never did.
        await h.send('room', 'next');
        await h.waitReplies(1);
        expect(h.replies.map((r) => r.text)).toEqual(['next']);
      });

      it('stop pauses and cancels: both reported; a stopped channel runs nothing until resume, then runs what waits in order', async () => {
        const h = await make({ settings: LONG });
        h.hold((batch) => batch.messages[0]!.text === 'running');
        await h.send('room', 'running');
        await h.engine.flush(h.key('room'));
        const running = await h.run(0);
        expect(await h.engine.stop(h.key('room'))).toEqual({ paused: true, cancelled: true });
        expect(codeOf(await running.aborted)).toBe(ErrorCode.Cancelled);
        await h.waitEvent(QueueEventType.Paused);
        expect(await h.waitEvent(QueueEventType.Cancelled)).toMatchObject({ batchId: running.batch.id, reason: 'stop' });
        // New messages keep collecting; a window that closes while paused seals into the queue and waits.
        await h.send('room', 'w1');
        await h.engine.flush(h.key('room'));
        await h.send('room', 'w2');
        await h.engine.flush(h.key('room'));
        await h.until('both sealed', () => h.eventsOf(QueueEventType.Flushed).length === 3);
        expect(await h.engine.stats(h.key('room'))).toMatchObject({ paused: true, processing: false, queuedBatches: 2, inFlight: null });
        expect(h.runs).toHaveLength(1);
        expect(await h.engine.resume(h.key('room'))).toEqual({ paused: false });
        await h.waitEvent(QueueEventType.Resumed);
        await h.waitReplies(2);
        expect(h.runs.map((r) => r.texts)).toEqual([['running'], ['w1'], ['w2']]);
        expect(h.replies.map((r) => r.text)).toEqual(['w1', 'w2']);
      });

      it('stop on a known idle channel only pauses; stop and resume of an unknown channel are typed errors', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'open');
        expect(await h.engine.stop(h.key('room'))).toEqual({ paused: true, cancelled: false });
        expect((await h.engine.stats(h.key('room')))?.paused).toBe(true);
        // Both idempotent.
        expect(await h.engine.stop(h.key('room'))).toEqual({ paused: true, cancelled: false });
        expect(await h.engine.resume(h.key('room'))).toEqual({ paused: false });
        expect(await h.engine.resume(h.key('room'))).toEqual({ paused: false });
        expect((await h.engine.stats(h.key('room')))).toMatchObject({ paused: false, pending: 1 });
        const stopErr = await h.engine.stop(h.key('nobody')).catch((e: unknown) => e);
        expect(stopErr).toBeInstanceOf(UnknownChannelError);
        expect((stopErr as UnknownChannelError).code).toBe(ErrorCode.UnknownChannel);
        await expect(h.engine.resume(h.key('nobody'))).rejects.toBeInstanceOf(UnknownChannelError);
        expect(h.eventsOf(QueueEventType.Cancelled)).toEqual([]);
      });

      it('startProcessing with a key resumes that channel', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'x');
        await h.engine.stop(h.key('room'));
        await h.engine.flush(h.key('room'));
        await h.waitEvent(QueueEventType.Flushed);
        expect(await h.engine.stats(h.key('room'))).toMatchObject({ paused: true, queuedBatches: 1 });
        await h.engine.startProcessing(h.key('room'));
        await h.waitReplies(1);
        expect(h.replies.map((r) => r.text)).toEqual(['x']);
        expect((await h.engine.stats(h.key('room')))?.paused).toBe(false);
      });

      it('pauseDispatch holds every sealed batch; startProcessing without a key dispatches them', async () => {
        const h = await make({ settings: LONG });
        h.engine.pauseDispatch();
        await h.send('a', 'a1');
        await h.send('b', 'b1');
        expect(await h.engine.flush(h.key('a'))).toBe(true);
        expect(await h.engine.flush(h.key('b'))).toBe(true);
        await h.until('both sealed', () => h.eventsOf(QueueEventType.Flushed).length === 2);
        expect(await h.engine.stats(h.key('a'))).toMatchObject({ paused: false, queuedBatches: 1, processing: false });
        expect(await h.engine.stats(h.key('b'))).toMatchObject({ queuedBatches: 1, processing: false });
        expect(h.runs).toHaveLength(0);
        await h.engine.startProcessing();
        await h.waitReplies(2);
        expect(h.replies.map((r) => r.text).sort()).toEqual(['a1', 'b1']);
      });

      it('flush seals the open batch now (reason admin) and answers false when nothing is open', async () => {
        const h = await make({ settings: LONG });
        expect(await h.engine.flush(h.key('room'))).toBe(false);
        await h.send('room', 'a');
        await h.send('room', 'b');
        expect(await h.engine.flush(h.key('room'))).toBe(true);
        expect(await h.waitEvent(QueueEventType.Flushed)).toMatchObject({ channelKey: h.key('room'), size: 2, reason: 'admin' });
        await h.waitReplies(1);
        expect(h.replies[0]!.text).toBe('a+b');
        expect(await h.engine.flush(h.key('room'))).toBe(false);
      });

      it('clear discards the open and queued batches, not the one in flight; cleared messages never run', async () => {
        const h = await make({ settings: LONG });
        h.hold((batch) => batch.messages[0]!.text === 'running');
        await h.send('room', 'running');
        await h.engine.flush(h.key('room'));
        const running = await h.run(0);
        await h.send('room', 'q1');
        await h.send('room', 'q2');
        await h.engine.flush(h.key('room'));
        await h.send('room', 'open');
        await h.until('q1+q2 sealed', () => h.eventsOf(QueueEventType.Flushed).length === 2);
        expect(await h.engine.clear(h.key('room'))).toBe(3);
        expect(await h.waitEvent(QueueEventType.Cleared)).toMatchObject({ channelKey: h.key('room'), removed: 3 });
        expect(running.ctx.signal.aborted).toBe(false);
        expect(await h.engine.stats(h.key('room'))).toMatchObject({ pending: 0, queuedBatches: 0, processing: true });
        expect((await h.engine.stats(h.key('room')))?.counters.cleared).toBe(3);
        running.finish();
        await h.waitReplies(1);
        await h.send('room', 'after');
        await h.engine.flush(h.key('room'));
        await h.waitReplies(2);
        expect(h.runs.map((r) => r.texts)).toEqual([['running'], ['after']]);
        expect(h.replies.map((r) => r.text)).toEqual(['running', 'after']);
      });
    });

    describe('hold', () => {
      it('never opens a batch', async () => {
        const h = await make({ settings: LONG });
        expect(await h.engine.hold(h.key('quiet'), 5_000, 'typing')).toEqual({ held: false });
        expect(await h.engine.stats(h.key('quiet'))).toBeNull();
        // Nor on a channel whose batch already sealed.
        h.hold(true);
        await h.send('room', 'x');
        await h.engine.flush(h.key('room'));
        await h.run(0);
        expect(await h.engine.hold(h.key('room'), 5_000, 'typing')).toEqual({ held: false });
        expect((await h.engine.stats(h.key('room')))?.pending).toBe(0);
      });

      it('never brings a deadline forward; messages arriving meanwhile join the held batch', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'a');
        const before = (await h.engine.stats(h.key('room')))!.deadline!;
        const held = await h.engine.hold(h.key('room'), 10, 'typing');
        expect(held.held).toBe(true);
        expect((await h.engine.stats(h.key('room')))!.deadline).toBe(before);
        await h.send('room', 'b');
        await h.engine.flush(h.key('room'));
        await h.waitReplies(1);
        expect(h.runs.map((r) => r.texts)).toEqual([['a', 'b']]);
      });

      it('keeps the open batch open for at least holdMs past the last message', async () => {
        const h = await make({ settings: { windowMs: 50, maxWaitMs: 600_000 } });
        await h.send('room', 'a');
        const before = (await h.engine.stats(h.key('room')))!.deadline!;
        const asked = Date.now();
        const held = await h.engine.hold(h.key('room'), 300_000, 'mediaGroup');
        const answered = Date.now();
        expect(held.held).toBe(true);
        // The answer's deadline is on this process's clock (distributed converts it from Redis time).
        const local = held.held ? held.deadline : 0;
        expect(local).toBeGreaterThanOrEqual(asked + 300_000 - 1_000);
        expect(local).toBeLessThanOrEqual(answered + 300_000 + 1_000);
        const after = (await h.engine.stats(h.key('room')))!.deadline!;
        // before = lastAt + windowMs; the hold moves it to at least (now >= lastAt) + holdMs.
        expect(after).toBeGreaterThanOrEqual(before - 50 + 300_000);
        expect(h.eventsOf(QueueEventType.Flushed)).toEqual([]);
        await h.send('room', 'b');
        await h.engine.flush(h.key('room'));
        await h.waitReplies(1);
        expect(h.runs.map((r) => r.texts)).toEqual([['a', 'b']]);
      });

      it('is capped by maxWaitMs: a held batch seals by maxWait, firstAt + maxWaitMs', async () => {
        const h = await make({ settings: { windowMs: 40, maxWaitMs: 400 } });
        await h.send('room', 'a');
        expect((await h.engine.hold(h.key('room'), 600_000, 'typing')).held).toBe(true);
        const flushed = await h.waitEvent(QueueEventType.Flushed);
        expect(flushed.reason).toBe('maxWait');
        expect(flushed.deadline - flushed.firstAt!).toBe(400);
        await h.waitReplies(1);
      });
    });

    describe('turn holds', () => {
      const TURN = { windowMs: 40, maxWaitMs: 120_000, maxBatchSize: 10, typingHoldMs: 90_000, hold: { rules: ['openFence', 'trailingColon', 'ellipsis', 'phrases'], holdMs: 60_000, phrases: ['one sec'] } } satisfies Partial<ChannelSettings>;
      const deadlineOf = async (h: EngineHarness, channelId: string) => (await h.engine.stats(h.key(channelId)))!.deadline!;

      it('typing by an author of the open batch extends it, capped by maxWaitMs; a non-author does nothing; typing never opens a batch', async () => {
        const h = await make({ settings: { ...LONG, typingHoldMs: 90_000 } });
        expect(await h.engine.typing(h.key('quiet'), 'u-ana')).toEqual({ held: false });
        expect(await h.engine.stats(h.key('quiet'))).toBeNull();
        await h.send('room', 'a');
        const before = await deadlineOf(h, 'room');
        expect(await h.engine.typing(h.key('room'), 'u-bob')).toEqual({ held: false });
        expect(await deadlineOf(h, 'room')).toBe(before);
        expect((await h.engine.typing(h.key('room'), 'u-ana')).held).toBe(true);
        const held = await deadlineOf(h, 'room');
        // before = lastAt + 60 s; typing moves it to at least (now >= lastAt) + 90 s, capped at firstAt + 120 s.
        expect(held).toBeGreaterThanOrEqual(before + 30_000);
        expect(held).toBeLessThanOrEqual(before + 60_000);
        expect(await h.waitEvent(QueueEventType.Held)).toMatchObject({ channelKey: h.key('room'), reason: 'typing', deadline: held });
        await h.engine.setSettings(h.key('room'), { typingHoldMs: 600_000 });
        expect((await h.engine.typing(h.key('room'), 'u-ana')).held).toBe(true);
        expect(await deadlineOf(h, 'room')).toBe(before + 60_000); // firstAt + maxWaitMs
        await h.engine.setSettings(h.key('room'), { typingHoldMs: 0 });
        expect(await h.engine.typing(h.key('room'), 'u-ana')).toEqual({ held: false });
        expect(h.runs).toHaveLength(0);
      });

      it('a message ending in a colon holds the window for hold.holdMs; the next message ends the hold and both run as one batch', async () => {
        const h = await make({ settings: TURN });
        await h.send('room', 'logs below:');
        const held = await h.waitEvent(QueueEventType.Held);
        expect(held).toMatchObject({ channelKey: h.key('room'), reason: 'trailingColon' });
        expect(h.runs).toHaveLength(0);
        await h.send('room', 'ERROR at line 3');
        await h.waitReplies(1);
        expect(h.runs.map((r) => r.texts)).toEqual([['logs below:', 'ERROR at line 3']]);
        expect(h.eventsOf(QueueEventType.Flushed).map((e) => e.reason)).toEqual(['window']);
      });

      it('an open code fence holds the batch until a later message closes it', async () => {
        const h = await make({ settings: TURN });
        await h.send('room', 'here: ```js');
        await h.send('room', 'const x = 1;');
        expect(h.eventsOf(QueueEventType.Held).map((e) => e.reason)).toEqual(['openFence', 'openFence']);
        expect(h.runs).toHaveLength(0);
        await h.send('room', '```');
        await h.waitReplies(1);
        expect(h.runs.map((r) => r.texts)).toEqual([['here: ```js', 'const x = 1;', '```']]);
      });

      it('a message matching flushOn seals its batch at once with flushReason keyword', async () => {
        const h = await make({ settings: { ...LONG, flushOn: ['ship it', '/^go$/i'] } });
        await h.send('room', 'first');
        await h.send('room', 'ok, ship it!');
        await h.waitReplies(1);
        expect(h.runs.map((r) => r.texts)).toEqual([['first', 'ok, ship it!']]);
        expect(h.runs[0]!.batch.flushReason).toBe('keyword');
        expect(h.eventsOf(QueueEventType.Flushed).map((e) => e.reason)).toEqual(['keyword']);
      });
    });

    describe('settings', () => {
      it('get, set and delete an override: effective settings follow it', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'x');
        const key = h.key('room');
        const initial = await h.engine.getSettings(key);
        expect(initial.override).toBeNull();
        expect(initial.effective).toMatchObject({ ...LONG, mode: 'queue', overflow: 'merge' });
        const set = await h.engine.setSettings(key, { mode: 'interrupt', maxQueuedBatches: 7 });
        expect(set.override).toEqual({ mode: 'interrupt', maxQueuedBatches: 7 });
        expect(set.effective).toMatchObject({ ...LONG, mode: 'interrupt', maxQueuedBatches: 7 });
        expect(await h.engine.getSettings(key)).toEqual(set);
        // A second PUT merges into the override.
        expect((await h.engine.setSettings(key, { typing: false })).override).toEqual({ mode: 'interrupt', maxQueuedBatches: 7, typing: false });
        expect((await h.engine.stats(key))?.settings).toMatchObject({ mode: 'interrupt', typing: false });
        const deleted = await h.engine.deleteSettings(key);
        expect(deleted).toEqual(initial);
      });

      it('a bad override is refused with a typed error naming the field, and changes nothing', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'x');
        const key = h.key('room');
        await h.engine.setSettings(key, { maxBatchSize: 3 });
        const err = await h.engine.setSettings(key, { windowMs: -5, mode: 'sideways' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidSettingsError);
        expect((err as InvalidSettingsError).code).toBe(ErrorCode.InvalidSettings);
        expect((err as InvalidSettingsError).issues.map((i) => i.path).sort()).toEqual(['mode', 'windowMs']);
        await expect(h.engine.setSettings(key, { bogus: 1 })).rejects.toBeInstanceOf(InvalidSettingsError);
        await expect(h.engine.setSettings(key, 'windowMs=5')).rejects.toBeInstanceOf(InvalidSettingsError);
        expect((await h.engine.getSettings(key)).override).toEqual({ maxBatchSize: 3 });
      });

      it('windowMs takes effect at once: a shorter window re-times the open batch, which seals by the window', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'a');
        await h.engine.setSettings(h.key('room'), { windowMs: 30 });
        expect(await h.waitEvent(QueueEventType.Flushed)).toMatchObject({ size: 1, reason: 'window' });
        await h.waitReplies(1);
        expect(h.replies[0]!.text).toBe('a');
      });

      it('maxWaitMs takes effect: an override caps how long a held batch stays open', async () => {
        const h = await make({ settings: { windowMs: 40, maxWaitMs: 600_000 } });
        await h.send('room', 'a');
        await h.engine.setSettings(h.key('room'), { maxWaitMs: 300 });
        expect((await h.engine.hold(h.key('room'), 600_000, 'typing')).held).toBe(true);
        const flushed = await h.waitEvent(QueueEventType.Flushed);
        expect(flushed.reason).toBe('maxWait');
        expect(flushed.deadline - flushed.firstAt!).toBe(300);
      });

      it('maxBatchSize takes effect: the open batch seals by size when it reaches the override', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'a');
        await h.engine.setSettings(h.key('room'), { maxBatchSize: 2 });
        const sealing = await h.send('room', 'b');
        expect(sealing).toMatchObject({ accepted: true, pending: 0 });
        expect(await h.waitEvent(QueueEventType.Flushed)).toMatchObject({ size: 2, reason: 'size' });
        await h.waitReplies(1);
        expect(h.replies[0]!.text).toBe('a+b');
      });
    });

    describe('overflow', () => {
      /** A channel with `first` in flight (held) and `queued` batches waiting behind it, each one message. */
      const fill = async (h: EngineHarness, queued: string[]) => {
        h.hold(true);
        await h.send('room', 'first');
        const first = await h.run(0);
        for (const t of queued) accepted(await h.send('room', t));
        return first;
      };

      it('reject: at the bound the message is refused (queue full), counted, and never runs', async () => {
        const h = await make({ settings: { ...EACH, maxQueuedBatches: 1, overflow: 'reject' } });
        const first = await fill(h, ['waiting']);
        const refused = await h.send('room', 'refused', 'r1');
        expect(refused).toEqual({ accepted: false, reason: 'queue full', channelKey: h.key('room'), id: 'r1' });
        expect(await h.waitEvent(QueueEventType.Dropped)).toMatchObject({ channelKey: h.key('room'), count: 1, reason: 'rejected' });
        expect((await h.engine.stats(h.key('room')))?.counters.dropped).toBe(1);
        h.hold(false);
        first.finish();
        await h.waitReplies(2);
        await h.send('room', 'later');
        await h.waitReplies(3);
        expect(h.runs.map((r) => r.texts)).toEqual([['first'], ['waiting'], ['later']]);
      });

      it('drop-oldest: at the bound the oldest waiting batch is dropped and counted; the new one is accepted', async () => {
        const h = await make({ settings: { ...EACH, maxQueuedBatches: 2, overflow: 'drop-oldest' } });
        const first = await fill(h, ['old', 'mid']);
        accepted(await h.send('room', 'new'));
        const dropped = await h.waitEvent(QueueEventType.Dropped);
        expect(dropped).toMatchObject({ channelKey: h.key('room'), count: 1, reason: 'overflow' });
        expect(dropped.batchId).toEqual(expect.any(String));
        expect((await h.engine.stats(h.key('room')))).toMatchObject({ queuedBatches: 2, counters: { dropped: 1 } });
        h.hold(false);
        first.finish();
        await h.waitReplies(3);
        expect(h.runs.map((r) => r.texts)).toEqual([['first'], ['mid'], ['new']]);
      });

      it('warns once when the waiting batches reach the warn ratio', async () => {
        // queueWarnRatio 0.75 (the default) of maxQueuedBatches 4: the warning starts at 3 waiting.
        const h = await make({ settings: { ...EACH, maxQueuedBatches: 4 } });
        await fill(h, ['q1', 'q2']);
        expect(h.eventsOf(QueueEventType.OverWarn)).toEqual([]);
        accepted(await h.send('room', 'q3'));
        expect(await h.waitEvent(QueueEventType.OverWarn)).toMatchObject({ channelKey: h.key('room'), queuedBatches: 3, limit: 4 });
        accepted(await h.send('room', 'q4'));
        await h.until('q4 sealed', () => h.eventsOf(QueueEventType.Flushed).length === 5);
        expect(h.eventsOf(QueueEventType.OverWarn)).toHaveLength(1);
      });

      it('warns once more when the waiting batches fall back under the ratio', async () => {
        const h = await make({ settings: { ...EACH, maxQueuedBatches: 4 } });
        const first = await fill(h, ['q1', 'q2', 'q3']);
        await h.waitEvent(QueueEventType.OverWarn);
        h.hold(false);
        first.finish();
        expect(await h.waitEvent(QueueEventType.UnderWarn)).toMatchObject({ channelKey: h.key('room'), queuedBatches: 2, limit: 4 });
        await h.waitReplies(4);
        expect(h.eventsOf(QueueEventType.OverWarn)).toHaveLength(1);
        expect(h.eventsOf(QueueEventType.UnderWarn)).toHaveLength(1);
      });

      it('merge: at the bound waiting batches merge; nothing is lost, nothing dropped, order kept', async () => {
        const h = await make({ settings: { ...EACH, maxQueuedBatches: 2, overflow: 'merge' } });
        const first = await fill(h, ['m1', 'm2']);
        accepted(await h.send('room', 'm3'));
        accepted(await h.send('room', 'm4'));
        await h.until('all sealed', () => h.eventsOf(QueueEventType.Flushed).length === 5);
        const stats = (await h.engine.stats(h.key('room')))!;
        expect(stats.queuedMessages).toBe(4);
        expect(stats.queuedBatches).toBeLessThanOrEqual(3);
        expect(stats.counters.dropped).toBe(0);
        h.hold(false);
        first.finish();
        await h.until('every message answered', () => h.replies.flatMap((r) => r.inReplyTo ?? []).length === 5);
        expect(h.runs.flatMap((r) => r.texts)).toEqual(['first', 'm1', 'm2', 'm3', 'm4']);
        expect(h.runs.length).toBeLessThan(5);
        expect(h.eventsOf(QueueEventType.Dropped)).toEqual([]);
      });
    });

    describe('failures', () => {
      it('a failing batch is reported, kept as a dead letter with its error, and the channel moves on', async () => {
        const h = await make({ settings: EACH });
        h.hold((batch) => batch.messages[0]!.text.startsWith('poison'));
        await h.send('room', 'poison', 'p1');
        await h.send('room', 'fine');
        await h.send('room', 'poison again', 'p2');
        (await h.run(0)).fail(new Error('cannot digest'));
        const failed = await h.waitEvent(QueueEventType.Failed);
        expect(failed).toMatchObject({ channelKey: h.key('room'), size: 1, error: 'cannot digest', timeout: false });
        await h.waitReplies(1);
        expect(h.replies.map((r) => r.text)).toEqual(['fine']);
        (await h.run(2)).fail(new Error('still cannot'));
        await h.until('the second failure', () => h.eventsOf(QueueEventType.Failed).length === 2);
        const dead = await h.engine.deadLetters(10);
        expect(dead.map((d) => [d.channelKey, d.error, d.batch.messages.map((m) => m.id)])).toEqual([
          [h.key('room'), 'still cannot', ['p2']],
          [h.key('room'), 'cannot digest', ['p1']],
        ]);
        expect(dead[0]!.failedAt).toBeGreaterThanOrEqual(dead[1]!.failedAt);
        expect(await h.engine.deadLetters(1)).toHaveLength(1);
        expect((await h.engine.stats(h.key('room')))?.counters).toMatchObject({ failed: 2, processed: 1 });
        expect(h.eventsOf(QueueEventType.Cancelled)).toEqual([]);
      });

      it('a processor that ignores its signal past processingTimeoutMs fails with timeout, and the channel moves on', async () => {
        const h = await make({ settings: { ...EACH, processingTimeoutMs: 200 } });
        h.hold((batch) => batch.messages[0]!.text === 'stuck');
        await h.send('room', 'stuck');
        await h.send('room', 'next');
        const stuck = await h.run(0);
        expect(codeOf(await stuck.aborted)).toBe(ErrorCode.ProcessorTimeout);
        expect(await h.waitEvent(QueueEventType.Failed)).toMatchObject({ batchId: stuck.batch.id, timeout: true });
        expect(await stuck.reply('too late')).toBe(false);
        expect(await h.waitEvent(QueueEventType.ReplyDropped)).toMatchObject({ batchId: stuck.batch.id, reason: 'aborted' });
        await h.waitReplies(1);
        expect(h.replies.map((r) => r.text)).toEqual(['next']);
        expect((await h.engine.deadLetters(10)).map((d) => d.batch.messages[0]!.text)).toEqual(['stuck']);
      });

      it('a failure without an Error still reads: a thrown text is the error, no reason says the processor rejected', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('room', 'a');
        await h.send('room', 'b');
        (await h.run(0)).fail('bot said no');
        (await h.run(1)).fail(undefined);
        await h.until('two failures', () => h.eventsOf(QueueEventType.Failed).length === 2);
        expect(h.eventsOf(QueueEventType.Failed).map((e) => e.error)).toEqual(['bot said no', 'processor rejected']);
      });

      it('ctx.typing() reaches the gateway’s typing hook for the batch’s channel', async () => {
        const h = await make({ settings: SHORT });
        h.hold(true);
        await h.send('room', 'x');
        const run = await h.run(0);
        await run.ctx.typing();
        await h.until('a typing request', () => h.typingRequests.length > 0);
        expect(h.typingRequests).toEqual([h.key('room')]);
        run.finish();
      });
    });

    describe('restore', () => {
      it('restore puts sealed batches at the back of their channels’ queues, in the given order', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('room', 'running');
        const running = await h.run(0);
        await h.send('room', 'queued');
        await h.engine.restore([sealedBatch('room', ['s1']), sealedBatch('room', ['s2'])]);
        h.hold(false);
        running.finish();
        await h.waitReplies(4);
        expect(h.runs.map((r) => r.texts)).toEqual([['running'], ['queued'], ['s1'], ['s2']]);
      });
    });

    describe('reading', () => {
      it('stats shows a channel’s open batch, queue, flight, settings and counters; unknown channels are null', async () => {
        const h = await make({ settings: LONG });
        expect(await h.engine.stats(h.key('room'))).toBeNull();
        h.hold(true);
        await h.send('room', 'a');
        await h.send('room', 'b');
        await h.engine.flush(h.key('room'));
        const run = await h.run(0);
        await h.send('room', 'c');
        await h.engine.flush(h.key('room'));
        await h.send('room', 'd');
        await h.until('c sealed', () => h.eventsOf(QueueEventType.Flushed).length === 2);
        const stats = await h.engine.stats(h.key('room'));
        expect(stats).toMatchObject({
          key: h.key('room'),
          platform: 'webhook',
          channelId: 'room',
          pending: 1,
          queuedBatches: 1,
          queuedMessages: 1,
          processing: true,
          paused: false,
          active: true,
          inFlight: { batchId: run.batch.id, size: 2 },
          counters: { received: 4, batches: 2, processed: 0, cancelled: 0, failed: 0, dropped: 0, cleared: 0 },
        });
        expect(stats!.settings).toMatchObject(LONG);
        expect(stats!.deadline).toEqual(expect.any(Number));
        expect(stats!.inFlight!.startedAt).toEqual(expect.any(Number));
        run.finish();
        await h.until('processed', async () => (await h.engine.stats(h.key('room')))?.counters.processed === 1);
      });

      it('list shows every channel holding state', async () => {
        const h = await make({ settings: LONG });
        await h.send('a', 'x');
        await h.send('b', 'y');
        await h.send('b', 'z');
        const list = await h.engine.list();
        const byKey = new Map(list.map((s) => [s.key, s]));
        expect([...byKey.keys()].sort()).toEqual([h.key('a'), h.key('b')]);
        expect(byKey.get(h.key('b'))).toMatchObject({ pending: 2, processing: false, counters: { received: 2 } });
        expect(h.engine.totals()).toMatchObject({ repliesDropped: 0, maxConcurrentBatches: 8 });
        // Embedded mode has no remote state to lose; distributed answers true while Redis is reachable.
        expect(h.engine.available?.() ?? true).toBe(true);
      });
    });

    describe('shutdown', () => {
      it('a closed engine refuses new messages with shutting down; closing twice is fine', async () => {
        const h = await make({ settings: SHORT });
        await h.send('room', 'before');
        await h.waitReplies(1);
        await Promise.all([h.engine.close(), h.engine.close()]);
        await h.engine.close();
        expect(await h.send('room', 'after', 'a1')).toMatchObject({ accepted: false, reason: 'shutting down', id: 'a1' });
      });

      it('a draining engine refuses new messages with shutting down', async () => {
        const h = await make({ settings: SHORT });
        await h.engine.drain(5_000);
        expect(await h.send('room', 'late', 'l1')).toEqual({ accepted: false, reason: 'shutting down', channelKey: h.key('room'), id: 'l1' });
        expect(await h.engine.enqueueFront(h.message('room', 'front', 'f1'))).toMatchObject({ accepted: false, reason: 'shutting down', id: 'f1' });
        expect(h.runs).toHaveLength(0);
      });

      it(traits.drain === 'hand-back' ? 'drain seals open windows (shutdown) and runs them' : 'drain leaves open windows in Redis for the other gateways', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'a');
        await h.send('room', 'b');
        const result = await h.engine.drain(5_000);
        if (traits.drain === 'hand-back') {
          expect(result).toEqual({ drained: 2, waiting: [] });
          expect(h.eventsOf(QueueEventType.Flushed)).toMatchObject([{ size: 2, reason: 'shutdown' }]);
          await h.waitReplies(1);
          expect(h.replies.map((r) => r.text)).toEqual(['a+b']);
        } else {
          expect(result).toEqual({ drained: 0, waiting: [] });
          expect(await h.engine.stats(h.key('room'))).toMatchObject({ pending: 2, queuedBatches: 0 });
          expect(h.eventsOf(QueueEventType.Flushed)).toEqual([]);
        }
      });

      it(traits.drain === 'hand-back' ? 'drain aborts a batch still running at the timeout and hands it back' : 'drain leaves a running batch to its worker, whose reply still arrives', async () => {
        const h = await make({ settings: EACH });
        h.hold(true);
        await h.send('room', 'long');
        const run = await h.run(0);
        const result = await h.engine.drain(50);
        if (traits.drain === 'hand-back') {
          expect(codeOf(await run.aborted)).toBe(ErrorCode.ShuttingDown);
          expect(await h.waitEvent(QueueEventType.Cancelled)).toMatchObject({ batchId: run.batch.id, reason: 'shutdown' });
          expect(result.waiting.map((b) => b.messages.map((m) => m.text))).toEqual([['long']]);
          expect(await run.reply('too late')).toBe(false);
        } else {
          expect(result).toEqual({ drained: 0, waiting: [] });
          expect(run.ctx.signal.aborted).toBe(false);
          run.finish();
          await h.waitReplies(1);
          expect(h.replies.map((r) => r.text)).toEqual(['long']);
        }
      });

      it(traits.drain === 'hand-back' ? 'drain hands back a paused channel’s waiting batches' : 'drain leaves a paused channel’s waiting batches in Redis', async () => {
        const h = await make({ settings: LONG });
        await h.send('room', 'w');
        await h.engine.stop(h.key('room'));
        await h.engine.flush(h.key('room'));
        await h.waitEvent(QueueEventType.Flushed);
        const result = await h.engine.drain(5_000);
        if (traits.drain === 'hand-back') {
          expect(result.drained).toBe(0);
          expect(result.waiting.map((b) => b.messages.map((m) => m.text))).toEqual([['w']]);
        } else {
          expect(result).toEqual({ drained: 0, waiting: [] });
          expect(await h.engine.stats(h.key('room'))).toMatchObject({ paused: true, queuedBatches: 1 });
        }
        expect(h.runs).toHaveLength(0);
      });
    });
    describeEditCases(make);

    describe('groupBy: author', () => {
      const byAuthor = (h: EngineHarness, user: string, text: string) => h.engine.enqueue({ ...h.message('group', text, text), userId: user, userName: user });

      it('two authors interleaving in one channel get one batch each, keyed platform:channelId/userId, in order, replies threaded to each author', async () => {
        const h = await make({ settings: { ...LONG, groupBy: 'author' } });
        h.hold(true);
        const answers = [];
        for (const [user, text] of [['ana', 'a1'], ['bo', 'b1'], ['ana', 'a2'], ['bo', 'b2'], ['ana', 'a3']] as const) answers.push(await byAuthor(h, user, text));
        const ana = `${h.key('group')}/ana`;
        const bo = `${h.key('group')}/bo`;
        expect(answers.map((a) => a.channelKey)).toEqual([ana, bo, ana, bo, ana]);
        expect(await h.engine.stats(ana)).toMatchObject({ key: ana, pending: 3, processing: false });
        expect(await h.engine.stats(bo)).toMatchObject({ key: bo, pending: 2 });
        expect(await h.engine.flush(ana)).toBe(true);
        expect(await h.engine.flush(bo)).toBe(true);
        // One batch in flight per author key, both at once.
        const runs = [await h.run(0), await h.run(1)];
        const byKey = new Map(runs.map((r) => [r.batch.channelKey, r]));
        expect(byKey.get(ana)!.texts).toEqual(['a1', 'a2', 'a3']);
        expect(byKey.get(bo)!.texts).toEqual(['b1', 'b2']);
        for (const r of runs) r.finish();
        const replies = await h.waitReplies(2);
        const replyOf = (last: string) => replies.find((r) => r.replyTo === last);
        expect(replyOf('a3')).toMatchObject({ channelId: 'group', text: 'a1+a2+a3', inReplyTo: ['a1', 'a2', 'a3'] });
        expect(replyOf('b2')).toMatchObject({ channelId: 'group', text: 'b1+b2', inReplyTo: ['b1', 'b2'] });
        // The channel key itself holds no batch of its own.
        expect((await h.engine.stats(h.key('group')))?.counters.received ?? 0).toBe(0);
      });

      it('an author key takes the channel’s settings, and its own admin actions: a second burst queues behind the first', async () => {
        const h = await make({ settings: { ...LONG, groupBy: 'author' } });
        h.hold(true);
        const ana = `${h.key('group')}/ana`;
        await byAuthor(h, 'ana', 'a1');
        expect((await h.engine.getSettings(ana)).effective).toMatchObject({ ...LONG, groupBy: 'author' });
        await h.engine.flush(ana);
        const first = await h.run(0);
        await byAuthor(h, 'ana', 'a2');
        await h.engine.flush(ana);
        await h.until('second batch queued', async () => (await h.engine.stats(ana))?.queuedBatches === 1);
        expect(h.runs).toHaveLength(1);
        first.finish();
        const second = await h.run(1);
        expect(second.texts).toEqual(['a2']);
        second.finish();
        await h.waitReplies(2);
        expect(h.replies.map((r) => r.text)).toEqual(['a1', 'a2']);
      });

      it('an override of groupBy on the channel key groups the messages that follow', async () => {
        const h = await make({ settings: LONG });
        await byAuthor(h, 'ana', 'a1');
        await h.engine.setSettings(h.key('group'), { groupBy: 'author' });
        const next = await byAuthor(h, 'ana', 'a2');
        expect(next).toMatchObject({ accepted: true, channelKey: `${h.key('group')}/ana`, pending: 1 });
        expect(await h.engine.stats(h.key('group'))).toMatchObject({ pending: 1 });
      });
    });
  });
}
