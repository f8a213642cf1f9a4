import { createConnection } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startRedisCluster } from '../helpers/redis-cluster.js';

const KEYS = 300;

/** true while something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test/helpers/redis-cluster: a real local Redis Cluster', () => {
  it('serves keys across every slot range, survives kill -9 of a primary through its replica, and leaves nothing running', { timeout: 180_000 }, async () => {
    const cluster = await startRedisCluster();
    onTestFinished(() => cluster.stop());

    const nodes = await cluster.nodes();
    const primaries = nodes.filter((n) => n.role === 'primary');
    expect(primaries).toHaveLength(3);
    expect(nodes.filter((n) => n.role === 'replica').map((n) => n.primaryId).sort()).toEqual(primaries.map((p) => p.id).sort());

    const writer = cluster.client();
    for (let i = 0; i < KEYS; i++) await writer.set(`key:${i}`, `value ${i}`);
    // Every primary holds some of the keys: they really spread over the three slot ranges.
    const masters = writer.nodes('master');
    expect(masters).toHaveLength(3);
    const sizes = await Promise.all(masters.map((m) => m.dbsize()));
    expect(sizes.every((n) => n > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(KEYS);
    // Replication is asynchronous: wait until each primary's replica has every write, so the failover loses none.
    const acked = await Promise.all(masters.map((m) => m.call('WAIT', '1', '10000')));
    expect(acked.map(Number)).toEqual([1, 1, 1]);

    const { killed, promoted } = await cluster.killPrimary();
    expect(promoted.primaryId).toBeUndefined();
    expect(promoted.role).toBe('primary');
    expect(promoted.slots).toEqual(killed.slots);
    const after = await cluster.nodes();
    expect(after.find((n) => n.id === killed.id)?.failed).toBe(true);
    expect(after.filter((n) => n.role === 'primary' && !n.failed)).toHaveLength(3);
    expect(cluster.livePids()).toHaveLength(5);

    // A client that starts now finds the new layout from the surviving nodes and reads every key back.
    const reader = cluster.client();
    const values = await Promise.all(Array.from({ length: KEYS }, (_, i) => reader.get(`key:${i}`)));
    expect(values).toEqual(Array.from({ length: KEYS }, (_, i) => `value ${i}`));
    await reader.set('key:after-failover', 'written');
    expect(await reader.get('key:after-failover')).toBe('written');

    const pids = cluster.livePids();
    await cluster.stop();
    await cluster.stop(); // idempotent
    expect(cluster.livePids()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    const open = await Promise.all(cluster.ports.map(listening));
    expect(open.some(Boolean)).toBe(false);
  });
});
