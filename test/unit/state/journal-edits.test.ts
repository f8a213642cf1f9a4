import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InMemoryBatchStore } from '../../../src/core/memory-batch-store.js';
import type { QueuedMessage } from '../../../src/core/model.js';
import { SettingsPolicy } from '../../../src/core/policy.js';
import { FileJournal } from '../../../src/state/journal.js';

const root = mkdtempSync(path.join(tmpdir(), 'bg-journal-edits-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const msg = (id: string, text: string): QueuedMessage => ({ id, platform: 'web', channelId: 'room', userId: 'u', userName: 'U', text, queuedAt: 1_000, extra: {} });

/** A store over a journal in a fresh directory, as the embedded engine builds it. */
function open(dir: string, mode: 'queue' | 'interrupt' = 'queue') {
  const journal = FileJournal.open({ dir, fsync: 'always', syncIntervalMs: 0 });
  const store = new InMemoryBatchStore({ policy: new SettingsPolicy({ mode, windowMs: 60_000, maxWaitMs: 120_000 }), emit: () => {}, journal });
  return { journal, store };
}

describe('the journal keeps edits and deletes', () => {
  it('after a kill -9 following an edit and a delete, the open and queued batches come back as changed', async () => {
    const dir = path.join(root, `d${++dirs}`);
    const { journal, store } = open(dir);
    store.append(msg('q1', 'queued tpyo'), 1_000);
    store.append(msg('q2', 'queued gone'), 1_001);
    store.seal('web:room', 'admin', 1_002);
    store.append(msg('o1', 'open one'), 1_003);
    store.append(msg('o2', 'open tpyo'), 1_004);
    store.change('web:room', 'q1', { text: 'queued typo fixed' }, 2_000);
    store.change('web:room', 'q2', null, 2_001);
    store.change('web:room', 'o2', { text: 'open typo fixed' }, 2_002);
    await journal.whenDurable(null);
    journal.abandon();

    const [channel] = FileJournal.open({ dir, fsync: 'always', syncIntervalMs: 0 }).recovered();
    expect(channel!.queued.map((b) => b.messages.map((m) => [m.id, m.text, m.editedAt]))).toEqual([[['q1', 'queued typo fixed', 2_000]]]);
    expect(channel!.open!.messages.map((m) => [m.id, m.text, m.editedAt])).toEqual([
      ['o1', 'open one', undefined],
      ['o2', 'open typo fixed', 2_002],
    ]);
  });

  it('an edit of the batch in flight (interrupt mode) comes back with the edited text to run again', async () => {
    const dir = path.join(root, `d${++dirs}`);
    const { journal, store } = open(dir, 'interrupt');
    store.append(msg('f1', 'deploy prod'), 1_000);
    store.seal('web:room', 'admin', 1_001);
    const taken = store.take('web:room', 1_002)!;
    expect(store.change('web:room', 'f1', { text: 'deploy staging' }, 2_000)).toMatchObject({ applied: 'in-flight', abort: true });
    // Killed before the run's abort reached the interrupt step.
    await journal.whenDurable(null);
    journal.abandon();
    expect(taken.batch.messages[0]!.text).toBe('deploy staging');

    const [channel] = FileJournal.open({ dir, fsync: 'always', syncIntervalMs: 0 }).recovered();
    expect(channel!.queued.map((b) => [b.attempt, b.messages.map((m) => m.text)])).toEqual([[2, ['deploy staging']]]);
  });
});
