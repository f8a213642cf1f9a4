import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, until, type Cluster } from './distributed-harness.js';

type Entry = { type: string; reason?: string; batchId?: string; messageIds?: string[] };

// 2 gateways + 1 worker as child processes of the real CLI on a real redis-server.
describe('distributed mode: the decision timeline', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    // Pairs seal by size, however loaded the machine is.
    cluster = await startCluster({ gateways: 2, workers: 1, via: 'node', batching: { defaults: { windowMs: 60_000, maxBatchSize: 2, maxWaitMs: 120_000 } } });
  }, 90_000);
  afterAll(async () => {
    await Promise.all([...(cluster?.gateways ?? []), ...(cluster?.workers ?? [])].map((p) => p.stop('SIGTERM').catch(() => undefined)));
    await cluster?.sink.close();
    await cluster?.redis.stop();
  }, 60_000);

  it('a channel fed through one gateway and run by a worker shows its whole timeline on the other gateway', async () => {
    expect(await cluster.post(0, 'tl-room', 'tl-m1', 'logs below:')).toBe(202);
    expect(await cluster.post(0, 'tl-room', 'tl-m2', 'the logs')).toBe(202);
    const route = `/api/v1/channels/${encodeURIComponent('webhook:tl-room')}/timeline`;
    let entries: Entry[] = [];
    await until('the worker’s completed entry on the second gateway', async () => {
      entries = ((await cluster.admin(1, 'GET', route)).body as { entries: Entry[] }).entries;
      return entries.some((e) => e.type === 'completed');
    }, 30_000);
    expect(entries.map((e) => e.type)).toEqual(['opened', 'appended', 'sealed', 'started', 'completed']);
    const [opened, appended, sealed, started, completed] = entries;
    expect(opened!.messageIds).toEqual(['tl-m1']);
    expect(appended!.messageIds).toEqual(['tl-m2']);
    expect(sealed).toMatchObject({ reason: 'size', batchId: opened!.batchId });
    // started and completed were written by the worker, which ran the batch.
    expect(started).toMatchObject({ batchId: opened!.batchId, messageIds: ['tl-m1', 'tl-m2'] });
    expect(completed!.batchId).toBe(opened!.batchId);
    // Both gateways answer the same timeline.
    expect(((await cluster.admin(0, 'GET', route)).body as { entries: Entry[] }).entries).toEqual(entries);
  }, 60_000);
});
