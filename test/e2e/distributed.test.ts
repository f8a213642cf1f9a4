import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { completedBatches, overlaps, startCluster, until, type Cluster } from './distributed-harness.js';

// 2 gateways + 2 workers as child processes (`npm start`, `npm run worker`) on a real redis-server.
describe('distributed mode: 2 gateways, 2 workers, one Redis', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ gateways: 2, workers: 2, via: 'npm' });
  }, 90_000);
  afterAll(async () => {
    await Promise.all([...(cluster?.gateways ?? []), ...(cluster?.workers ?? [])].map((p) => p.stop('SIGTERM').catch(() => undefined)));
    await cluster?.sink.close();
    await cluster?.redis.stop();
  }, 60_000);

  it('20 channels × 50 messages posted alternately to both gateways: every message processed, each reply once, order intact, never two batches of a channel at once', async () => {
    const channels = Array.from({ length: 20 }, (_, i) => `room-${i}`);
    const posted = new Map<string, string[]>();
    // Each channel posts its 50 messages in order (awaiting each), alternating gateways; channels run in parallel.
    await Promise.all(
      channels.map(async (channel, c) => {
        const ids: string[] = [];
        posted.set(`webhook:${channel}`, ids);
        for (let i = 0; i < 50; i++) {
          const id = `${channel}-m${String(i).padStart(2, '0')}`;
          const status = await cluster.post((i + c) % 2, channel, id);
          expect(status).toBe(202);
          ids.push(id);
          // Bursts with pauses, so windows close by quiet time as well as by the size cap.
          if (i % 7 === 6) await new Promise((r) => setTimeout(r, 200));
        }
      }),
    );
    const total = 20 * 50;
    await until('every message processed', async () => completedBatches(await cluster.deliveries()).reduce((n, b) => n + b.ids.length, 0) >= total, 60_000);
    const deliveries = await cluster.deliveries();
    const batches = completedBatches(deliveries);

    // Every message reached the processor, exactly once in completed batches, in per-channel order.
    for (const [key, ids] of posted) {
      const seen = batches.filter((b) => b.key === key).flatMap((b) => b.ids);
      expect(seen, key).toEqual(ids);
    }
    // Both workers did work (the load is shared).
    expect(new Set(batches.map((b) => b.pid)).size).toBe(2);
    // Never two batches of one channel in flight at once.
    expect(overlaps(deliveries)).toEqual([]);

    // Each batch's reply arrives exactly once, and per channel in batch order.
    await until('every reply delivered', () => cluster.sink.delivered().length >= batches.length, 30_000);
    // One more message per channel, and its reply: replies go out in order per channel, so a duplicate of
    // an earlier one would have arrived before it.
    await Promise.all(channels.map(async (channel, c) => expect(await cluster.post(c % 2, channel, `${channel}-marker`)).toBe(202)));
    const isMarker = (r: { body: unknown }) => String((r.body as { inReplyTo: string[] }).inReplyTo[0]).endsWith('-marker');
    await until('every marker replied', () => cluster.sink.delivered().filter(isMarker).length === channels.length, 30_000);
    const replies = cluster.sink.delivered().filter((r) => !isMarker(r)).map((r) => r.body as { channelId: string; batchId: string; inReplyTo: string[] });
    expect(replies.length).toBe(batches.length);
    expect(new Set(replies.map((r) => r.batchId)).size).toBe(replies.length);
    for (const [key, ids] of posted) {
      const channelId = key.slice('webhook:'.length);
      expect(replies.filter((r) => r.channelId === channelId).flatMap((r) => r.inReplyTo), key).toEqual(ids);
    }

    // Any gateway answers for any channel, with cluster-wide state.
    const stats = await cluster.admin(1, 'GET', `/api/v1/channels/${encodeURIComponent('webhook:room-3')}`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ key: 'webhook:room-3', pending: 0, processing: false, counters: { received: 51 } });
    // Each processed batch is counted once across the cluster: by the worker that ran it (the markers' too);
    // gateways leave the run series to the workers, so summing every /metrics endpoint counts it once.
    const completedOn = async (url: string) => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      return Number(/^batchgate_processing_seconds_count\{outcome="completed"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    };
    const perWorker = await Promise.all(cluster.workers.map((w) => completedOn(w.url)));
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(batches.length + channels.length);
    expect(await Promise.all(cluster.gateways.map((g) => completedOn(g.url)))).toEqual([0, 0]);
  }, 120_000);

  it('a web-chat reply comes back to the gateway holding the browser socket, whichever worker ran the batch', async () => {
    for (const g of [0, 1]) {
      const ws = new WebSocket(`${cluster.gateways[g]!.url.replace('http', 'ws')}/chat/ws`);
      const frames: Array<Record<string, unknown>> = [];
      ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ type: 'hello' }));
      await until('welcome', () => frames.some((f) => f.type === 'welcome'));
      ws.send(JSON.stringify({ type: 'message', text: `hello via gateway ${g}`, clientId: 'c1' }));
      await until(`reply on gateway ${g}'s socket`, () => frames.some((f) => f.type === 'reply'), 20_000);
      const reply = frames.find((f) => f.type === 'reply')!;
      const accepted = frames.find((f) => f.type === 'accepted')!;
      expect(reply.inReplyTo).toEqual([accepted.id]);
      expect(String(reply.text)).toContain(`hello via gateway ${g}`);
      ws.close();
    }
  }, 60_000);

  it('SIGTERM: a gateway exits 0 leaving its open window to the other gateway; a worker exits 0 after its batch', async () => {
    // A long window on this channel (set at gateway 1, stored in Redis) keeps it open across the shutdown,
    // however long the POSTs and the shutdown take; a short one set afterwards lets the survivor close it.
    const key = encodeURIComponent('webhook:handover');
    const seen = cluster.sink.delivered().length;
    expect(await cluster.post(1, 'handover', 'h0')).toBe(202); // the channel exists from here on
    await until('h0 replied', () => cluster.sink.delivered().length > seen);
    const put = await fetch(`${cluster.gateways[1]!.url}/api/v1/channels/${key}/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ windowMs: 60_000, maxWaitMs: 120_000 }) });
    expect(put.status).toBe(200);
    const before = cluster.sink.delivered().length;
    expect(await cluster.post(0, 'handover', 'h1')).toBe(202);
    expect(await cluster.post(0, 'handover', 'h2')).toBe(202);
    expect(await cluster.gateways[0]!.stop('SIGTERM', 15_000)).toBe(0);
    // The shutdown sealed nothing: the window is still open, now with the survivor.
    expect(await cluster.admin(1, 'GET', `/api/v1/channels/${key}`)).toMatchObject({ status: 200, body: { pending: 2, queuedBatches: 0, processing: false } });
    const shorter = await fetch(`${cluster.gateways[1]!.url}/api/v1/channels/${key}/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ windowMs: 200 }) });
    expect(shorter.status).toBe(200);
    await until('the survivor sealed it and the reply went out', () => cluster.sink.delivered().slice(before).some((r) => (r.body as { channelId: string }).channelId === 'handover'), 20_000);
    const reply = cluster.sink.delivered().slice(before).find((r) => (r.body as { channelId: string }).channelId === 'handover')!;
    expect((reply.body as { inReplyTo: string[] }).inReplyTo).toEqual(['h1', 'h2']);
    expect(await cluster.workers[0]!.stop('SIGTERM', 15_000)).toBe(0);
  }, 60_000);
});
