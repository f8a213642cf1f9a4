import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QueueEventType } from '../../../src/core/events.js';
import { createHarness } from '../../helpers/queue-harness.js';

const CHANNELS = ['a', 'b', 'c'] as const;
const channel = fc.constantFrom(...CHANNELS);

const command = fc.oneof(
  { weight: 6, arbitrary: channel.map((c) => ({ op: 'enqueue' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'front' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'cancel' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'stop' as const, c })) },
  { weight: 2, arbitrary: channel.map((c) => ({ op: 'resume' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'clear' as const, c })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((ms) => ({ op: 'advance' as const, ms })) },
  { weight: 3, arbitrary: fc.boolean().map((ok) => ({ op: 'finish' as const, ok })) },
);

type Harness = ReturnType<typeof createHarness>;
type Run = Harness['runs'][number];

/**
 * The runs a property drives by hand: those neither aborted nor settled yet, settling one (the oldest, for
 * a `finish` command), and running everything out once the commands are done.
 */
function manualRuns(h: Harness) {
  const settled = new Set<Run>();
  const open = () => h.runs.filter((r) => !r.ctx.signal.aborted && !settled.has(r));
  const settle = (r: Run, ok: boolean) => {
    settled.add(r);
    if (ok) r.resolve();
    else r.reject(new Error('processor failed'));
  };
  /** Settles the oldest open run, if any, and lets what follows from it happen. */
  const finishOldest = async (ok: boolean) => {
    const r = open()[0];
    if (r) settle(r, ok);
    await h.time.settle();
  };
  /** Resumes `keys`, runs out the clock and completes what runs, until nothing runs (at most 50 rounds). */
  const runOut = async (keys: readonly string[]) => {
    for (let round = 0; round < 50; round++) {
      for (const key of keys) await h.queue.resume(key).catch(() => undefined);
      await h.time.advance(6_000);
      const running = open();
      if (running.length === 0 && h.queue.totals().running === 0) break;
      for (const r of running) settle(r, true);
      await h.time.settle();
    }
  };
  return { open, finishOldest, runOut };
}

describe('MessageQueue invariants under random interleavings', () => {
  it('every message is delivered once or accounted for; order holds; one batch in flight per channel', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 20, maxLength: 150 }),
        fc.constantFrom('merge', 'drop-oldest') ,
        async (commands, overflow) => {
          const h = createHarness({
            settings: { windowMs: 1_000, maxBatchSize: 3, maxWaitMs: 5_000, maxQueuedBatches: 3, overflow },
            maxConcurrentBatches: 2,
          });
          const arrival = new Map<string, number>(); // id → arrival index
          const channelOf = new Map<string, string>();
          const front = new Map<string, Set<string>>(); // front id → ids not yet started when it was inserted
          const started = new Set<string>();
          let clearedCount = 0;
          let seq = 0;
          const inFlightPerChannel = new Map<string, number>();
          let violations = 0;
          h.queue.on((e) => {
            if (e.type === QueueEventType.Started) {
              const now = (inFlightPerChannel.get(e.channelKey) ?? 0) + 1;
              if (now > 1) violations++;
              inFlightPerChannel.set(e.channelKey, now);
              for (const id of e.messageIds) started.add(id);
            }
            if (e.type === QueueEventType.Completed || e.type === QueueEventType.Cancelled || e.type === QueueEventType.Failed) {
              inFlightPerChannel.set(e.channelKey, (inFlightPerChannel.get(e.channelKey) ?? 1) - 1);
            }
          });
          const { finishOldest, runOut } = manualRuns(h);

          for (const cmd of commands) {
            switch (cmd.op) {
              case 'enqueue': {
                const m = h.msg(cmd.c, 'x');
                arrival.set(m.id, seq++);
                channelOf.set(m.id, cmd.c);
                await h.queue.enqueue(m);
                break;
              }
              case 'front': {
                const m = h.msg(cmd.c, 'urgent');
                arrival.set(m.id, seq++);
                channelOf.set(m.id, cmd.c);
                const waiting = new Set([...arrival.keys()].filter((id) => channelOf.get(id) === cmd.c && !started.has(id) && id !== m.id));
                front.set(m.id, waiting);
                await h.queue.enqueueFront(m);
                break;
              }
              case 'cancel':
                await h.queue.cancelCurrent(`test:${cmd.c}`);
                break;
              case 'stop':
                await h.queue.stop(`test:${cmd.c}`).catch(() => undefined);
                break;
              case 'resume':
                await h.queue.resume(`test:${cmd.c}`).catch(() => undefined);
                break;
              case 'clear':
                clearedCount += await h.queue.clear(`test:${cmd.c}`);
                break;
              case 'advance':
                await h.time.advance(cmd.ms);
                break;
              case 'finish':
                await finishOldest(cmd.ok);
                break;
            }
          }
          // Let everything finish: resume every channel, run out the clock, complete what runs.
          await runOut(CHANNELS.map((c) => `test:${c}`));

          expect(violations).toBe(0);
          const batches = new Map<string, string[]>();
          for (const e of h.eventsOf(QueueEventType.Started)) batches.set(e.batchId, e.messageIds);
          const startCount = new Map<string, number>();
          for (const ids of batches.values()) for (const id of ids) startCount.set(id, (startCount.get(id) ?? 0) + 1);
          // Each message started at most once (queue mode never re-runs).
          for (const n of startCount.values()) expect(n).toBe(1);
          // Never-started messages are exactly the cleared and dropped ones.
          const dropped = h.eventsOf(QueueEventType.Dropped).reduce((s, e) => s + e.count, 0);
          const neverStarted = [...arrival.keys()].filter((id) => !startCount.has(id));
          expect(neverStarted.length).toBe(clearedCount + dropped);
          // Every started batch ended exactly once.
          const ended = [
            ...h.eventsOf(QueueEventType.Completed),
            ...h.eventsOf(QueueEventType.Cancelled),
            ...h.eventsOf(QueueEventType.Failed),
          ].map((e) => e.batchId);
          expect(new Set(ended).size).toBe(ended.length);
          expect(new Set(ended)).toEqual(new Set(batches.keys()));
          // Per channel, ordinary messages start in arrival order.
          const order = h.eventsOf(QueueEventType.Started).flatMap((e) => e.messageIds);
          for (const c of CHANNELS) {
            const seen = order.filter((id) => channelOf.get(id) === c && !front.has(id)).map((id) => arrival.get(id)!);
            expect(seen).toEqual([...seen].sort((x, y) => x - y));
          }
          // A front item starts before everything of its channel that waited when it was inserted.
          const position = new Map(order.map((id, i) => [id, i]));
          for (const [id, waiting] of front) {
            const at = position.get(id);
            if (at === undefined) continue; // cleared or dropped
            for (const w of waiting) {
              const wAt = position.get(w);
              if (wAt !== undefined && !front.has(w)) expect(wAt).toBeGreaterThan(at);
            }
          }
          // Replies never come from aborted batches.
          expect(h.replies).toHaveLength(0);
          await h.queue.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('steer mode: a message runs in one batch or is taken by exactly one run, never both; per channel the order holds', async () => {
    const steerCommand = fc.oneof(
      { weight: 6, arbitrary: channel.map((c) => ({ op: 'enqueue' as const, c })) },
      { weight: 3, arbitrary: channel.map((c) => ({ op: 'steer' as const, c })) },
      { weight: 1, arbitrary: channel.map((c) => ({ op: 'cancel' as const, c })) },
      { weight: 1, arbitrary: channel.map((c) => ({ op: 'clear' as const, c })) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((ms) => ({ op: 'advance' as const, ms })) },
      { weight: 3, arbitrary: fc.boolean().map((ok) => ({ op: 'finish' as const, ok })) },
    );
    let runsThatTook = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(steerCommand, { minLength: 20, maxLength: 150 }), async (commands) => {
        const h = createHarness({
          settings: { windowMs: 1_000, maxBatchSize: 3, maxWaitMs: 5_000, maxQueuedBatches: 3, overflow: 'merge', mode: 'steer' },
          maxConcurrentBatches: 2,
        });
        const arrival = new Map<string, number>();
        const channelOf = new Map<string, string>();
        let clearedCount = 0;
        let seq = 0;
        const takenBy = new Map<string, string>(); // message id → batch id of the run that took it
        const { open, finishOldest, runOut } = manualRuns(h);
        for (const cmd of commands) {
          switch (cmd.op) {
            case 'enqueue': {
              const m = h.msg(cmd.c, 'x');
              arrival.set(m.id, seq++);
              channelOf.set(m.id, cmd.c);
              await h.queue.enqueue(m);
              break;
            }
            case 'steer': {
              const r = open().find((run) => run.batch.channelKey === `test:${cmd.c}`);
              if (!r) break;
              for (const m of await r.ctx.steered!()) {
                expect(takenBy.has(m.id)).toBe(false);
                takenBy.set(m.id, r.batch.id);
              }
              break;
            }
            case 'cancel':
              await h.queue.cancelCurrent(`test:${cmd.c}`);
              break;
            case 'clear':
              clearedCount += await h.queue.clear(`test:${cmd.c}`);
              break;
            case 'advance':
              await h.time.advance(cmd.ms);
              break;
            case 'finish':
              await finishOldest(cmd.ok);
              break;
          }
        }
        await runOut([]);
        if (takenBy.size > 0) runsThatTook++;
        const startedIn = new Map<string, string>();
        for (const e of h.eventsOf(QueueEventType.Started)) {
          for (const id of e.messageIds) {
            expect(startedIn.has(id)).toBe(false);
            startedIn.set(id, e.batchId);
          }
        }
        // What a run took is what `batch.steered` reported, and none of it ever ran as a batch.
        const steeredEvents = h.eventsOf(QueueEventType.Steered);
        expect(steeredEvents.flatMap((e) => e.messageIds).sort()).toEqual([...takenBy.keys()].sort());
        for (const [id, batchId] of takenBy) {
          expect(startedIn.has(id)).toBe(false);
          expect(steeredEvents.find((e) => e.messageIds.includes(id))?.batchId).toBe(batchId);
          // The run that took it had started and ends once.
          expect(h.eventsOf(QueueEventType.Started).some((e) => e.batchId === batchId)).toBe(true);
        }
        // Every message ran, was taken, or was cleared / dropped.
        const dropped = h.eventsOf(QueueEventType.Dropped).reduce((n, e) => n + e.count, 0);
        const unaccounted = [...arrival.keys()].filter((id) => !startedIn.has(id) && !takenBy.has(id));
        expect(unaccounted.length).toBe(clearedCount + dropped);
        // Per channel, what runs and what is taken comes in arrival order.
        const order = h.events.flatMap((e) => (e.type === QueueEventType.Started || e.type === QueueEventType.Steered ? e.messageIds : []));
        for (const c of CHANNELS) {
          const seen = order.filter((id) => channelOf.get(id) === c).map((id) => arrival.get(id)!);
          expect(seen).toEqual([...seen].sort((x, y) => x - y));
        }
        await h.queue.close();
      }),
      { numRuns: 200 },
    );
    // The generated runs reach the case the property is about: some of them take steered messages.
    expect(runsThatTook).toBeGreaterThan(20);
  });
});

// groupBy: author — kept apart from the cases above so other operations can join those without touching this.
const AUTHORS = ['Ana', 'Bo', 'Cy'] as const;
const author = fc.constantFrom(...AUTHORS);
const authorKey = (a: string) => `test:g/u-${a}`;
const groupCommand = fc.oneof(
  { weight: 6, arbitrary: author.map((a) => ({ op: 'enqueue' as const, a })) },
  { weight: 1, arbitrary: author.map((a) => ({ op: 'cancel' as const, a })) },
  { weight: 1, arbitrary: author.map((a) => ({ op: 'stop' as const, a })) },
  { weight: 2, arbitrary: author.map((a) => ({ op: 'resume' as const, a })) },
  { weight: 1, arbitrary: author.map((a) => ({ op: 'clear' as const, a })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((ms) => ({ op: 'advance' as const, ms })) },
  { weight: 3, arbitrary: fc.boolean().map((ok) => ({ op: 'finish' as const, ok })) },
);

describe('MessageQueue invariants with groupBy: author', () => {
  it('each author’s messages run in their own batches, once or accounted for, in order, one batch in flight per author key', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(groupCommand, { minLength: 20, maxLength: 150 }), async (commands) => {
        const h = createHarness({
          settings: { windowMs: 1_000, maxBatchSize: 3, maxWaitMs: 5_000, maxQueuedBatches: 3, overflow: 'drop-oldest', groupBy: 'author' },
          maxConcurrentBatches: 2,
        });
        const arrival = new Map<string, number>();
        const authorOf = new Map<string, string>();
        const inFlight = new Map<string, number>();
        let violations = 0;
        let cleared = 0;
        let seq = 0;
        h.queue.on((e) => {
          if (e.type === QueueEventType.Started) {
            const n = (inFlight.get(e.channelKey) ?? 0) + 1;
            if (n > 1) violations++;
            inFlight.set(e.channelKey, n);
            // A batch holds one author's messages, under that author's key.
            if (e.messageIds.some((id) => authorKey(authorOf.get(id)!) !== e.channelKey)) violations++;
          }
          if (e.type === QueueEventType.Completed || e.type === QueueEventType.Cancelled || e.type === QueueEventType.Failed) {
            inFlight.set(e.channelKey, (inFlight.get(e.channelKey) ?? 1) - 1);
          }
        });
        const { finishOldest, runOut } = manualRuns(h);
        for (const cmd of commands) {
          switch (cmd.op) {
            case 'enqueue': {
              const m = h.msg('g', 'x', cmd.a);
              arrival.set(m.id, seq++);
              authorOf.set(m.id, cmd.a);
              const answer = await h.queue.enqueue(m);
              expect(answer.channelKey).toBe(authorKey(cmd.a));
              break;
            }
            case 'cancel':
              await h.queue.cancelCurrent(authorKey(cmd.a));
              break;
            case 'stop':
              await h.queue.stop(authorKey(cmd.a)).catch(() => undefined);
              break;
            case 'resume':
              await h.queue.resume(authorKey(cmd.a)).catch(() => undefined);
              break;
            case 'clear':
              cleared += await h.queue.clear(authorKey(cmd.a));
              break;
            case 'advance':
              await h.time.advance(cmd.ms);
              break;
            case 'finish':
              await finishOldest(cmd.ok);
              break;
          }
        }
        await runOut(AUTHORS.map(authorKey));
        expect(violations).toBe(0);
        const started = h.eventsOf(QueueEventType.Started);
        const startCount = new Map<string, number>();
        for (const e of started) for (const id of e.messageIds) startCount.set(id, (startCount.get(id) ?? 0) + 1);
        for (const n of startCount.values()) expect(n).toBe(1);
        const dropped = h.eventsOf(QueueEventType.Dropped).reduce((sum, e) => sum + e.count, 0);
        expect([...arrival.keys()].filter((id) => !startCount.has(id)).length).toBe(cleared + dropped);
        const order = started.flatMap((e) => e.messageIds);
        for (const a of AUTHORS) {
          const seen = order.filter((id) => authorOf.get(id) === a).map((id) => arrival.get(id)!);
          expect(seen).toEqual([...seen].sort((x, y) => x - y));
        }
        // The channel key itself never ran a batch.
        expect(started.some((e) => e.channelKey === 'test:g')).toBe(false);
        await h.queue.close();
      }),
      { numRuns: 150 },
    );
  });
});
