import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { DurableChannel } from '../../../src/core/journal.js';
import { InMemoryBatchStore } from '../../../src/core/memory-batch-store.js';
import { MessageBatch, type QueuedMessage } from '../../../src/core/model.js';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { FileJournal } from '../../../src/state/journal.js';
import { RecordEncoder } from '../../../src/state/journal-codec.js';

/**
 * The journal against the store it records: random store steps (append, seal, due windows, take, finish,
 * interrupt, release, clear, pause/resume, front insert, settings, overflow), acknowledged at random points
 * (a flush: what an answered message waits for), then a crash (the process stops; the directory is read
 * back, maybe with a torn last write). What recovery rebuilds must be exactly the store as it was at the
 * last acknowledgement, with the batch in flight back at the head of its queue as its next attempt: so
 * every acknowledged message is delivered once or accounted for (finished, cleared, dropped), and order
 * per channel holds. Then the same again from the recovered state (a crash after, and during, recovery).
 */

const CHANNELS = ['p:a', 'p:b', 'p:c'] as const;
const channel = fc.constantFrom(...CHANNELS);
type Op =
  | { op: 'append' | 'seal' | 'take' | 'finish' | 'interrupt' | 'release' | 'clear' | 'pause' | 'resume' | 'front' | 'unset'; c: string }
  | { op: 'advance'; ms: number }
  | { op: 'override'; c: string; maxBatchSize: number; overflow: 'merge' | 'drop-oldest' }
  | { op: 'ack' }
  | { op: 'compact' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: channel.map((c) => ({ op: 'append' as const, c })) },
  { weight: 2, arbitrary: channel.map((c) => ({ op: 'seal' as const, c })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 300 }).map((ms) => ({ op: 'advance' as const, ms })) },
  { weight: 3, arbitrary: channel.map((c) => ({ op: 'take' as const, c })) },
  { weight: 3, arbitrary: channel.map((c) => ({ op: 'finish' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'interrupt' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'release' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'clear' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'pause' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'resume' as const, c })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'front' as const, c })) },
  { weight: 1, arbitrary: fc.record({ c: channel, maxBatchSize: fc.integer({ min: 1, max: 4 }), overflow: fc.constantFrom('merge' as const, 'drop-oldest' as const) }).map((o) => ({ op: 'override' as const, ...o })) },
  { weight: 1, arbitrary: channel.map((c) => ({ op: 'unset' as const, c })) },
  { weight: 4, arbitrary: fc.constant({ op: 'ack' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'compact' as const }) },
);

const root = mkdtempSync(path.join(tmpdir(), 'bg-journal-prop-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
let ids = 0;

function newStore(journal: FileJournal): InMemoryBatchStore {
  const policy = new SettingsPolicy({ windowMs: 100, maxBatchSize: 3, maxWaitMs: 400, maxQueuedBatches: 1, overflow: 'merge' }, [{ match: 'p:c', overflow: 'drop-oldest' }]);
  return new InMemoryBatchStore({ policy, emit: () => {}, journal, rememberIdle: 2 });
}

/** Runs the steps; returns the store's durable state at the last acknowledgement. */
function run(store: InMemoryBatchStore, journal: FileJournal, ops: Op[], clock: { now: number }, acked: DurableChannel[]): DurableChannel[] {
  const msg = (c: string): QueuedMessage => ({ id: `m${++ids}`, platform: 'p', channelId: c.slice(2), userId: 'u', userName: 'U', text: `t${ids}`, queuedAt: clock.now, extra: {} });
  for (const o of ops) {
    const now = clock.now;
    switch (o.op) {
      case 'append':
        store.append(msg(o.c), now);
        break;
      case 'seal':
        store.seal(o.c, 'admin', now);
        break;
      case 'advance':
        clock.now += o.ms;
        store.sealDue(clock.now, 1_000);
        break;
      case 'take':
        store.take(o.c, now);
        break;
      case 'finish':
      case 'interrupt':
      case 'release': {
        const inFlight = store.stats(o.c)?.inFlight;
        if (!inFlight) break;
        if (o.op === 'finish') store.finish(o.c, inFlight.batchId, 'processed', now);
        else if (o.op === 'interrupt') store.interrupt(o.c, inFlight.batchId, now);
        else store.release(o.c, inFlight.batchId, now);
        break;
      }
      case 'clear':
        store.clear(o.c, now);
        break;
      case 'pause':
        store.pause(o.c, now);
        break;
      case 'resume':
        store.resume(o.c, now);
        break;
      case 'front':
        if (ids % 2 === 0) store.pushFront(o.c, msg(o.c), now);
        else store.pushFront(o.c, new MessageBatch(o.c, { messages: [msg(o.c), msg(o.c)], at: now }), now);
        break;
      case 'override':
        store.setOverride(o.c, { maxBatchSize: o.maxBatchSize, overflow: o.overflow }, now);
        break;
      case 'unset':
        store.deleteOverride(o.c, now);
        break;
      case 'ack':
        journal.flushNow();
        acked = store.export();
        break;
      case 'compact':
        journal.compact();
        acked = store.export();
        break;
    }
  }
  return acked;
}

/** What recovery must give: the acknowledged state with the in-flight batch re-queued as its next attempt. */
function afterCrash(state: DurableChannel[]): unknown {
  return normalize(state.map((ch) => ({ ...ch, queued: ch.inFlight ? [{ ...ch.inFlight, attempt: ch.inFlight.attempt + 1 }, ...ch.queued] : ch.queued, inFlight: null })));
}

function normalize(state: DurableChannel[]): unknown {
  const batch = (b: DurableChannel['open']) => (b === null ? null : { id: b.id, attempt: b.attempt, ids: b.messages.map((m) => m.id) });
  return state
    .map((ch) => ({ key: ch.key, paused: ch.paused, override: ch.override, open: batch(ch.open), queued: ch.queued.map(batch), inFlight: batch(ch.inFlight) }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** A crash: nothing more is written; maybe half of a last write reached the file. */
function crash(journal: FileJournal, dir: string, torn: Buffer): void {
  journal.abandon();
  if (torn.length === 0) return;
  const log = readdirSync(dir).filter((f) => f.startsWith('log.')).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1])).at(-1);
  if (log !== undefined) appendFileSync(path.join(dir, log), torn);
}

/** The bytes of one record as the journal writes it (after the record naming its channel). */
function encoded(write: (e: RecordEncoder) => void): Buffer {
  const e = new RecordEncoder();
  e.record(['c', 'p:a']);
  const named = e.length;
  write(e);
  return Buffer.from(e.bytes().subarray(named));
}
const tornAppend = encoded((e) => e.appended('p:a', { id: 'torn', platform: 'p', channelId: 'a', userId: 'u', userName: 'U', text: 'half written', queuedAt: 1, extra: {} }, null));
const tornFinish = encoded((e) => e.record(['f', 'p:a']));
// A write cut short by the crash: inside a message, inside a record's header, or a zero-filled tail.
const tornArb = fc.constantFrom(Buffer.alloc(0), tornAppend.subarray(0, tornAppend.length - 5), tornAppend.subarray(0, 12), tornFinish.subarray(0, 3), Buffer.alloc(64));

describe('journal recovery against the store', () => {
  it('rebuilds exactly the acknowledged state after a crash at any point, twice in a row, and after a crash during recovery', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 120 }), fc.array(opArb, { minLength: 20, maxLength: 120 }), tornArb, tornArb, fc.boolean(), (first, second, torn1, torn2, crashInRecovery) => {
        const dir = path.join(root, `d${++dirs}`);
        const clock = { now: 1_000_000 };
        const j1 = FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0, compactBytes: 2_000 });
        const s1 = newStore(j1);
        const acked1 = run(s1, j1, first, clock, []);
        crash(j1, dir, torn1);

        if (crashInRecovery) FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 }).abandon(); // died right after reading
        const j2 = FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0, compactBytes: 2_000 });
        const expected1 = afterCrash(acked1);
        expect(normalize(j2.recovered())).toEqual(expected1);
        const s2 = newStore(j2);
        s2.load(j2.recovered(), clock.now);
        expect(normalize(s2.export())).toEqual(expected1);

        const acked2 = run(s2, j2, second, clock, s2.export());
        crash(j2, dir, torn2);
        const j3 = FileJournal.open({ dir, fsync: 'everysec', syncIntervalMs: 0 });
        expect(normalize(j3.recovered())).toEqual(afterCrash(acked2));
        j3.abandon();
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 150 },
    );
  });
});
