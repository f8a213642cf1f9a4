import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startReplySink, type ReplySink } from '../helpers/reply-sink.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/spawn-gateway.js';

const BOT = fileURLToPath(new URL('./fixtures/recording-bot.mjs', import.meta.url));

/** One line of the recording bot's log. */
export interface Delivery {
  ev: 'start' | 'end';
  key: string;
  batchId: string;
  ids?: string[];
  aborted?: boolean;
  replied?: boolean;
  attempt?: number;
  pid: number;
  at: number;
}

export interface ClusterOptions {
  gateways?: number;
  workers?: number;
  /** How long the bot holds each batch. @defaultValue 20 */
  holdMs?: number;
  /** Deep-merged into the shared config's `distributed` section. */
  distributed?: Record<string, unknown>;
  batching?: Record<string, unknown>;
  /** `npm` runs `npm start` / `npm run worker` as users do; `node` lets a test SIGKILL exactly one process. */
  via?: 'node' | 'npm';
  redis?: RedisServer;
}

export interface Cluster {
  redis: RedisServer;
  sink: ReplySink;
  gateways: SpawnedGateway[];
  workers: SpawnedGateway[];
  recordFile: string;
  config: Record<string, unknown>;
  env: Record<string, string>;
  /** POSTs one message to a gateway's webhook; resolves with the status. */
  post(gateway: number, channelId: string, id: string, text?: string): Promise<number>;
  deliveries(): Promise<Delivery[]>;
  spawnWorker(): Promise<SpawnedGateway>;
  spawnGatewayProcess(): Promise<SpawnedGateway>;
  admin(gateway: number, method: string, route: string): Promise<{ status: number; body: unknown }>;
}

/**
 * A whole distributed deployment on loopback: a real redis-server on a free port, gateways and workers as
 * child processes of the real CLI, the recording bot as processor, webhook replies to a reply sink.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const redis = options.redis ?? (await startRedis({ appendonly: true }));
  const sink = await startReplySink();
  const recordFile = path.join(redis.dir, `deliveries-${Date.now()}.jsonl`);
  await writeFile(recordFile, '');
  const config: Record<string, unknown> = {
    http: { host: '127.0.0.1', port: 0 },
    redis: { url: redis.url },
    distributed: { prefix: 'bge', lockDurationMs: 2_000, stalledIntervalMs: 1_000, pollMs: 100, reconcileMs: 1_000, attempts: 3, backoffMs: 100, ...options.distributed },
    batching: { maxConcurrentBatches: 8, defaults: { windowMs: 150, maxBatchSize: 10, maxWaitMs: 1_000 }, ...options.batching },
    processor: { type: 'module', path: BOT },
    adapters: { web: { enabled: true }, webhook: { enabled: true, replyUrl: sink.url } },
    shutdownTimeoutMs: 3_000,
    log: { level: 'info' },
  };
  const env = { BG_RECORD_FILE: recordFile, BG_HOLD_MS: String(options.holdMs ?? 20) };
  const via = options.via ?? 'npm';
  const spawnWorker = () => spawnGateway({ config, command: 'worker', via, env });
  const spawnGatewayProcess = () => spawnGateway({ config, via, env });
  const workers = await Promise.all(Array.from({ length: options.workers ?? 2 }, () => spawnWorker()));
  const gateways = await Promise.all(Array.from({ length: options.gateways ?? 2 }, () => spawnGatewayProcess()));
  const cluster: Cluster = {
    redis,
    sink,
    gateways,
    workers,
    recordFile,
    config,
    env,
    post: async (g, channelId, id, text = id) => {
      const res = await fetch(`${cluster.gateways[g]!.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channelId, userId: 'u1', text, id }),
      });
      await res.arrayBuffer();
      return res.status;
    },
    deliveries: async () =>
      (await readFile(recordFile, 'utf8'))
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Delivery),
    spawnWorker,
    spawnGatewayProcess,
    admin: async (g, method, route) => {
      const res = await fetch(`${cluster.gateways[g]!.url}${route}`, { method });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
    },
  };
  return cluster;
}

/** Polls `check` every 50 ms until it returns true; rejects with `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Batches that ran to the end without abort, in start order, one per batch id (the last completed run). */
export function completedBatches(deliveries: Delivery[]): Array<{ key: string; batchId: string; ids: string[]; pid: number }> {
  const starts = new Map<string, Delivery>();
  const out = new Map<string, { key: string; batchId: string; ids: string[]; pid: number }>();
  for (const d of deliveries) {
    if (d.ev === 'start') starts.set(`${d.batchId}/${d.pid}`, d);
    else if (!d.aborted && d.replied) {
      const s = starts.get(`${d.batchId}/${d.pid}`);
      if (s) out.set(d.batchId, { key: d.key, batchId: d.batchId, ids: s.ids ?? [], pid: d.pid });
    }
  }
  return [...out.values()];
}

/** Pairs of deliveries of one channel whose [start, end] intervals overlap (must be none). */
export function overlaps(deliveries: Delivery[]): string[] {
  const runs = new Map<string, Array<{ batchId: string; start: number; end: number }>>();
  const open = new Map<string, Delivery>();
  for (const d of deliveries) {
    const k = `${d.batchId}/${d.pid}`;
    if (d.ev === 'start') open.set(k, d);
    else {
      const s = open.get(k);
      if (!s) continue;
      open.delete(k);
      const list = runs.get(d.key) ?? [];
      list.push({ batchId: d.batchId, start: s.at, end: d.at });
      runs.set(d.key, list);
    }
  }
  const found: string[] = [];
  for (const [key, list] of runs) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.start < list[i - 1]!.end) found.push(`${key}: ${list[i - 1]!.batchId} [${list[i - 1]!.start}, ${list[i - 1]!.end}] overlaps ${list[i]!.batchId} starting ${list[i]!.start}`);
    }
  }
  return found;
}
