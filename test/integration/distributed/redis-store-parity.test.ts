import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { BatchStore, ChannelStats, FinishResult, SealResult, TakenBatch } from '../../../src/core/batch-store.js';
import type { QueueEvent } from '../../../src/core/events.js';
import { InMemoryBatchStore } from '../../../src/core/memory-batch-store.js';
import { MessageBatch } from '../../../src/core/model.js';
import { SettingsPolicy, type SettingsOverride } from '../../../src/core/policy.js';
import { RedisBatchStore } from '../../../src/distributed/redis-store.js';
import { storeMessage } from '../../helpers/batch-store-suite.js';
import { redisForSuite } from '../../helpers/redis-server.js';

// Random step sequences run on the in-memory store (the reference) and on the Redis store; after every
// step the answers, the events and every channel's stats must match. Batch ids and seal orders differ
// by design (each store makes its own), so they are compared by presence only.

const server = redisForSuite();

const CHANNELS = ['a', 'b', 'c'] as const;
const ch = fc.constantFrom(...CHANNELS);
const override: fc.Arbitrary<SettingsOverride> = fc.record(
  {
    windowMs: fc.integer({ min: 0, max: 200 }),
    maxBatchSize: fc.integer({ min: 1, max: 4 }),
    disabled: fc.boolean(),
    maxQueuedBatches: fc.integer({ min: 1, max: 3 }),
    overflow: fc.constantFrom('merge', 'drop-oldest', 'reject'),
    mode: fc.constantFrom('queue', 'interrupt'),
  },
  { requiredKeys: [] },
);
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('append' as const), ch, dt: fc.integer({ min: 0, max: 120 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sealDue' as const), dt: fc.integer({ min: 0, max: 300 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('take' as const), ch }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('finish' as const), ch, outcome: fc.constantFrom('processed', 'failed', 'cancelled' as const) }) },
  fc.record({ op: fc.constantFrom('interrupt', 'release', 'pause', 'resume', 'clear', 'pushFront', 'seal', 'disarm', 'deleteOverride'), ch }),
  fc.record({ op: fc.constant('setOverride' as const), ch, override }),
  fc.record({ op: fc.constantFrom('sealAll', 'drain', 'restore') }),
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

const seal = (s: SealResult | null) => s && { channelKey: s.channelKey, size: s.size, reason: s.reason, mode: s.mode, head: s.headSeq !== null };
const seals = (list: SealResult[]) => list.map(seal).sort((x, y) => x!.channelKey.localeCompare(y!.channelKey));
const finished = (r: FinishResult) => ({ current: r.current, next: r.nextSeq !== null });
const texts = (b: MessageBatch) => b.messages.map((m) => m.text);
const taken = (t: TakenBatch | null) => t && { texts: texts(t.batch), attempt: t.attempt, sealedAt: t.sealedAt, settings: t.settings };
const stats = (s: ChannelStats | null) => s && { ...s, inFlight: s.inFlight && { ...s.inFlight, batchId: 'x' } };
// Ids differ between the two stores (each makes its own batch ids and gets its own message objects).
const canonical = (e: QueueEvent) =>
  Object.fromEntries(Object.entries({ ...e, ...('batchId' in e ? { batchId: 'x' } : {}), ...('messageId' in e ? { messageId: 'x' } : {}) }).sort(([a], [b]) => a.localeCompare(b)));
const events = (list: QueueEvent[]) => list.map((e) => JSON.stringify(canonical(e))).sort();

/** One store under test plus what a caller tracks: the id of each channel's batch in flight. */
class Driver {
  readonly events: QueueEvent[] = [];
  readonly inFlight = new Map<string, string>();
  constructor(readonly store: BatchStore) {}

  async run(s: Step, now: number, text: string): Promise<unknown> {
    const st = this.store;
    const key = 'ch' in s ? `p:${s.ch}` : '';
    const id = this.inFlight.get(key) ?? 'none';
    switch (s.op) {
      case 'append': {
        const r = await st.append(storeMessage(s.ch, text), now);
        return r.status === 'sealed' ? { ...r, sealed: seal(r.sealed) } : r;
      }
      case 'sealDue':
        return seals(await st.sealDue(now, 100));
      case 'take': {
        const t = await st.take(key, now);
        if (t) this.inFlight.set(key, t.batch.id);
        return taken(t);
      }
      case 'finish':
        return finished(await st.finish(key, id, s.outcome, now));
      case 'interrupt':
        return finished(await st.interrupt(key, id, now));
      case 'release':
        return finished(await st.release(key, id, now));
      case 'pause':
        return st.pause(key, now);
      case 'resume': {
        const r = await st.resume(key, now);
        return r && { next: r.nextSeq !== null };
      }
      case 'clear':
        return st.clear(key, now);
      case 'pushFront':
        return seal(await st.pushFront(key, storeMessage(s.ch, text), now));
      case 'seal':
        return seal(await st.seal(key, 'admin', now));
      case 'disarm':
        return st.disarm(key);
      case 'setOverride':
        return st.setOverride(key, s.override, now);
      case 'deleteOverride':
        return st.deleteOverride(key, now);
      case 'sealAll':
        return seals(await st.sealAll('shutdown', now));
      case 'drain':
        return (await st.drainWaiting()).map((b) => [b.channelKey, texts(b)]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
      case 'restore': {
        const batch = new MessageBatch('p:a', { id: `r-${text}`, messages: [storeMessage('a', text)] });
        return seals(await st.restore([batch], now));
      }
    }
  }

  async snapshot(): Promise<unknown> {
    const channels = await Promise.all(CHANNELS.map(async (c) => stats(await this.store.stats(`p:${c}`))));
    return { channels, active: this.store.activeChannels(), events: events(this.events.splice(0)) };
  }
}

let runs = 0;
it('the Redis store answers every step sequence as the in-memory store does', async () => {
  const redis = server().client();
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
      const policy = new SettingsPolicy({ windowMs: 100, maxWaitMs: 250, maxBatchSize: 3, maxQueuedBatches: 2 });
      const memory = new Driver(new InMemoryBatchStore({ policy, emit: (e) => memory.events.push(e) }));
      const onRedis: Driver = new Driver(
        await RedisBatchStore.create({ redis, policy, emit: (e) => onRedis.events.push(e), clock: 'caller', prefix: `parity${++runs}`, shards: 2 }),
      );
      let now = 1_000;
      for (const [i, s] of steps.entries()) {
        if ('dt' in s) now += s.dt;
        const text = `m${i}`;
        const expected = await memory.run(s, now, text);
        const actual = await onRedis.run(s, now, text);
        expect({ step: i, s, answer: actual }).toEqual({ step: i, s, answer: expected });
        expect({ step: i, s, after: await onRedis.snapshot() }).toEqual({ step: i, s, after: await memory.snapshot() });
      }
      await onRedis.store.close();
    }),
    { numRuns: 60 },
  );
  redis.disconnect();
});
