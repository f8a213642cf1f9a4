/**
 * Cancel latency: from an operator's `POST /api/v1/channels/:key/cancel` leaving the client to the
 * in-flight processor's `ctx.signal` firing, through the real gateway and its admin HTTP server. The
 * baseline is a plain `GET /healthz` round trip on the same server: cancelling should cost little more
 * than reaching the gateway at all. Goal: p99 under 100 ms (the tests only check that the signal has
 * fired by the time the 200 is answered; how fast that is belongs here).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AdapterContext, PlatformAdapter } from '../adapters/adapter.js';
import { parseConfig } from '../src/config/load.js';
import { createGateway } from '../src/gateway.js';
import { silentLogger } from '../src/logger.js';
import type { Processor } from '../src/processors/processor.js';
import type { GoalRow } from './goals.js';
import { now, percentile } from './lib.js';

const GOAL_P99_MS = 100;

/** Messages in through the gateway's real `accept`; replies are not needed here. */
class BenchAdapter implements PlatformAdapter {
  readonly platform = 'bench';
  ctx: AdapterContext | undefined;
  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }
  async send(): Promise<void> {}
  async close(): Promise<void> {}
}

export async function runCancelLatency(log: (line: string) => void, options: { rounds?: number } = {}): Promise<GoalRow[]> {
  const rounds = options.rounds ?? 200;
  const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-bench-cancel-'));
  let onStart: ((signal: AbortSignal) => void) | undefined;
  // Holds every batch until its signal aborts, and tells the bench it started.
  const processor: Processor = (_batch, ctx) =>
    new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      onStart?.(ctx.signal);
    });
  const adapter = new BenchAdapter();
  const config = parseConfig(
    { http: { port: 0 }, batching: { defaults: { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 1 } }, state: { spoolPath: path.join(dir, 'spool.jsonl') } },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger(), processor, adapters: [adapter] });
  await gateway.start();
  const cancels: number[] = [];
  const pings: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const started = new Promise<AbortSignal>((resolve) => (onStart = resolve));
      await adapter.ctx!.accept({ id: `m${i}`, platform: 'bench', channelId: 'room', userId: 'u', userName: 'U', text: 'hold' });
      const signal = await started;
      let abortedAt = 0;
      signal.addEventListener('abort', () => (abortedAt = now()), { once: true });
      const t0 = now();
      const res = await fetch(`${gateway.url}/api/v1/channels/bench%3Aroom/cancel`, { method: 'POST' });
      await res.arrayBuffer();
      if (res.status !== 200 || abortedAt === 0) throw new Error(`cancel round ${i}: status ${res.status}, aborted ${abortedAt !== 0}`);
      cancels.push(abortedAt - t0);
      const p0 = now();
      await (await fetch(`${gateway.url}/healthz`)).arrayBuffer();
      pings.push(now() - p0);
    }
  } finally {
    await gateway.close();
    await rm(dir, { recursive: true, force: true });
  }
  const p = (samples: number[], q: number) => percentile([...samples].sort((a, b) => a - b), q);
  log(`  ${rounds} cancels: p50 ${p(cancels, 50).toFixed(2)} ms, p99 ${p(cancels, 99).toFixed(2)} ms; GET /healthz p50 ${p(pings, 50).toFixed(2)} ms, p99 ${p(pings, 99).toFixed(2)} ms`);
  const base = { scenario: 'cancel → signal (admin HTTP)', baselineName: 'GET /healthz round trip', higherIsBetter: false };
  return [
    { ...base, metric: 'p50 ms', ours: p(cancels, 50), baseline: p(pings, 50) },
    { ...base, metric: 'p99 ms', ours: p(cancels, 99), baseline: p(pings, 99), goal: `< ${GOAL_P99_MS} ms`, pass: p(cancels, 99) < GOAL_P99_MS },
  ];
}
