import { afterEach, describe, expect, it } from 'vitest';
import { completedBatches, startCluster, until, type Cluster, type Delivery } from './distributed-harness.js';

// Fault tests: real processes (`node bin/batchgate.js start|worker`, so a signal reaches exactly one of
// them) on a real redis-server with AOF everysec. Each test is bounded and stops everything it started.
describe('distributed mode under faults', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    if (!cluster) return;
    await Promise.all([...cluster.gateways, ...cluster.workers].map((p) => p.stop('SIGKILL').catch(() => undefined)));
    await cluster.sink.close();
    await cluster.redis.stop();
    cluster = undefined;
  }, 60_000);

  const starts = (d: Delivery[], batchId?: string) => d.filter((x) => x.ev === 'start' && (batchId === undefined || x.batchId === batchId));
  const repliesFor = (c: Cluster, batchId: string) => c.sink.delivered().filter((r) => (r.body as { batchId: string }).batchId === batchId);
  /**
   * Sends one more batch to `room` and waits for its reply. Webhook replies go out in order per channel, so
   * a second reply to an earlier batch of the room would have been delivered before it.
   */
  const nextBatchReplied = async (c: Cluster, room: string, ids: string[]) => {
    for (const id of ids) expect(await c.post(0, room, id)).toBe(202);
    await until(`the reply to ${ids.join('+')}`, () => c.sink.delivered().some((r) => (r.body as { inReplyTo: string[] }).inReplyTo.includes(ids[0]!)), 30_000);
  };

  it('SIGKILL of a worker mid-batch: the batch re-runs on the other worker, nothing lost, one reply', async () => {
    // The three messages seal by size under a long window, however slowly the POSTs go.
    const c = (cluster = await startCluster({ via: 'node', holdMs: 2_500, batching: { defaults: { windowMs: 60_000, maxBatchSize: 3, maxWaitMs: 120_000 } } }));
    for (const id of ['k1', 'k2', 'k3']) expect(await c.post(0, 'victim', id)).toBe(202);
    await until('the batch started', async () => starts(await c.deliveries()).length === 1);
    const first = starts(await c.deliveries())[0]!;
    const holder = c.workers.find((w) => w.proc.pid === first.pid)!;
    expect(holder).toBeDefined();
    holder.signalGroup('SIGKILL');
    await until('re-run to the end on the other worker', async () => completedBatches(await c.deliveries()).length === 1, 30_000);
    const [done] = completedBatches(await c.deliveries());
    expect(done!.ids).toEqual(['k1', 'k2', 'k3']);
    expect(done!.batchId).toBe(first.batchId);
    expect(done!.pid).not.toBe(first.pid);
    await until('reply', () => repliesFor(c, first.batchId).length === 1);
    await nextBatchReplied(c, 'victim', ['k4', 'k5', 'k6']);
    expect(repliesFor(c, first.batchId)).toHaveLength(1);
  }, 90_000);

  it('SIGKILL of a gateway with open windows: the other gateway seals them; every message runs, in order', async () => {
    // A long window keeps every batch open until the kill, however slowly the POSTs go; afterwards a shorter
    // one set through the survivor lets its flusher seal them now instead of in a minute.
    const c = (cluster = await startCluster({ via: 'node', batching: { defaults: { windowMs: 60_000, maxBatchSize: 10, maxWaitMs: 120_000 } } }));
    const ids = new Map<string, string[]>();
    for (const room of ['open-1', 'open-2', 'open-3']) {
      ids.set(`webhook:${room}`, []);
      for (let i = 0; i < 3; i++) {
        expect(await c.post(0, room, `${room}-${i}`)).toBe(202);
        ids.get(`webhook:${room}`)!.push(`${room}-${i}`);
      }
    }
    for (const key of ids.keys()) expect(await c.admin(1, 'GET', `/api/v1/channels/${encodeURIComponent(key)}`)).toMatchObject({ body: { pending: 3, queuedBatches: 0 } });
    c.gateways[0]!.signalGroup('SIGKILL'); // its windows are open: nothing sealed yet
    await c.gateways[0]!.exited;
    for (const key of ids.keys()) {
      const res = await fetch(`${c.gateways[1]!.url}/api/v1/channels/${encodeURIComponent(key)}/settings`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ windowMs: 100 }),
      });
      expect(res.status).toBe(200);
    }
    await until('every window sealed by the survivor and run', async () => completedBatches(await c.deliveries()).length === 3, 30_000);
    const batches = completedBatches(await c.deliveries());
    for (const [key, expected] of ids) expect(batches.filter((b) => b.key === key).flatMap((b) => b.ids)).toEqual(expected);
    // Replies go out from the surviving gateway (after the dead one's reply lease lapsed, if it held it).
    await until('three replies', () => c.sink.delivered().length === 3, 20_000);
  }, 90_000);

  it('SIGKILL of redis-server mid-traffic, then restart (AOF everysec): no acknowledged message lost, order intact', async () => {
    const c = (cluster = await startCluster({ via: 'node', batching: { defaults: { windowMs: 100, maxBatchSize: 5, maxWaitMs: 1_000 } } }));
    const rooms = ['r0', 'r1', 'r2', 'r3'];
    const acked = new Map<string, string[]>(rooms.map((r) => [`webhook:${r}`, []]));
    let refused = 0;
    const next = new Map(rooms.map((r) => [r, 0]));
    // `count` messages per room, then more for as long as `more()` says (the traffic the crash has to hit).
    const postAll = async (count: number, more: () => boolean = () => false) =>
      Promise.all(
        rooms.map(async (room, ri) => {
          for (let n = 0; n < count || more(); n++) {
            const i = next.get(room)!;
            next.set(room, i + 1);
            const id = `${room}-${String(i).padStart(4, '0')}`;
            let status = 0;
            try {
              status = await c.post((i + ri) % 2, room, id);
            } catch {
              status = 0; // connection refused or reset: not acknowledged
            }
            if (status === 202) acked.get(`webhook:${room}`)!.push(id);
            else refused++;
            await new Promise((r) => setTimeout(r, 10));
          }
        }),
      );
    await postAll(30);
    let outage: { readyz: number; redis: unknown; post: number; retryAfter: string | null; inject: { status: number; code: unknown } } | undefined;
    let crashed = false;
    const crash = (async () => {
      try {
        await c.redis.kill('SIGKILL');
        // While Redis is away: not ready, and inbound is refused with 503 + Retry-After, never accepted.
        let readyz = await fetch(`${c.gateways[0]!.url}/readyz`);
        for (let i = 0; i < 200 && readyz.status === 200; i++) {
          await readyz.arrayBuffer();
          await new Promise((r) => setTimeout(r, 50));
          readyz = await fetch(`${c.gateways[0]!.url}/readyz`);
        }
        const post = await fetch(`${c.gateways[0]!.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channelId: 'x', userId: 'u', text: 'during outage' }) });
        // An operator's injected message is refused the same way (not as "queue full").
        const inject = await fetch(`${c.gateways[0]!.url}/api/v1/channels/${encodeURIComponent('webhook:x')}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'injected during outage' }) });
        const injected = { status: inject.status, code: ((await inject.json()) as { error?: { code?: unknown } }).error?.code };
        outage = { readyz: readyz.status, redis: ((await readyz.json()) as { redis?: unknown }).redis, post: post.status, retryAfter: post.headers.get('retry-after'), inject: injected };
        await post.arrayBuffer();
        // The outage lasts until the traffic below has run into it.
        await until('a message refused during the outage', () => refused > 0, 20_000);
      } finally {
        await c.redis.restart();
        crashed = true;
      }
    })();
    await postAll(30, () => !crashed);
    await crash;
    // Gateways reconnect by themselves; senders retry once they answer ready again.
    await until('gateways ready again', async () => (await Promise.all(c.gateways.map((g) => fetch(`${g.url}/readyz`).then((r) => r.status)))).every((st) => st === 200), 20_000);
    await postAll(30);
    const total = [...acked.values()].reduce((n, l) => n + l.length, 0);
    expect(outage).toEqual({ readyz: 503, redis: false, post: 503, retryAfter: '1', inject: { status: 503, code: 'BG_ERR_UNAVAILABLE' } });
    expect(refused).toBeGreaterThan(0); // the crash did hit traffic
    expect(total).toBeGreaterThan(150); // and traffic before and after it was acknowledged
    await until(
      'every acknowledged message processed',
      async () => {
        const seen = new Set(completedBatches(await c.deliveries()).flatMap((b) => b.ids));
        return [...acked.values()].every((l) => l.every((id) => seen.has(id)));
      },
      60_000,
    );
    const batches = completedBatches(await c.deliveries());
    for (const [key, ids] of acked) {
      // Order of first runs, restricted to what was acknowledged (a refused post may still have landed).
      const order: string[] = [];
      for (const id of batches.filter((b) => b.key === key).flatMap((b) => b.ids)) if (!order.includes(id)) order.push(id);
      const ackedSet = new Set(ids);
      expect(order.filter((id) => ackedSet.has(id)), key).toEqual(ids);
    }
  }, 150_000);

  it('SIGSTOP a worker past its lock, then SIGCONT: its late ACK is refused and its reply dropped (fence)', async () => {
    const c = (cluster = await startCluster({ via: 'node', holdMs: 1_500 }));
    expect(await c.post(0, 'zombie', 'z1')).toBe(202);
    await until('started', async () => starts(await c.deliveries()).length === 1);
    const first = starts(await c.deliveries())[0]!;
    const zombie = c.workers.find((w) => w.proc.pid === first.pid)!;
    zombie.signalGroup('SIGSTOP');
    try {
      await until('taken over and finished by the other worker', async () => completedBatches(await c.deliveries()).some((b) => b.batchId === first.batchId && b.pid !== first.pid), 30_000);
    } finally {
      zombie.signalGroup('SIGCONT');
    }
    await until('the zombie finished its stale run', async () => (await c.deliveries()).some((d) => d.ev === 'end' && d.pid === first.pid), 20_000);
    const zombieEnd = (await c.deliveries()).find((d) => d.ev === 'end' && d.pid === first.pid)!;
    expect(zombieEnd.replied).toBe(false);
    await zombie.waitForLog(/late ACK refused/, 10_000);
    await until('reply', () => repliesFor(c, first.batchId).length >= 1);
    await nextBatchReplied(c, 'zombie', ['z2']);
    expect(repliesFor(c, first.batchId)).toHaveLength(1);
  }, 90_000);

  it('a cancel at gateway A aborts the signal in the worker holding the batch (B received the message)', async () => {
    const c = (cluster = await startCluster({ via: 'node', holdMs: 20_000 }));
    expect(await c.post(1, 'long', 'l1')).toBe(202);
    await until('started', async () => starts(await c.deliveries()).length === 1);
    const batchId = starts(await c.deliveries())[0]!.batchId;
    const res = await c.admin(0, 'POST', `/api/v1/channels/${encodeURIComponent('webhook:long')}/cancel`);
    expect(res).toMatchObject({ status: 200, body: { cancelled: true } });
    // The bot holds a batch 20 s: a run that ends well before that ended because the cancel reached it.
    await until('aborted in the worker', async () => (await c.deliveries()).some((d) => d.ev === 'end' && d.batchId === batchId), 15_000);
    const end = (await c.deliveries()).find((d) => d.ev === 'end' && d.batchId === batchId)!;
    expect(end).toMatchObject({ aborted: true, replied: false });
    expect(repliesFor(c, batchId)).toHaveLength(0);
  }, 60_000);
});
