/**
 * S1: ingest → flush → dispatch throughput of the in-memory engine against the naive debounce, same
 * workload, same process, interleaved A/B. A message counts once the processor was invoked for its batch;
 * the rate is messages over wall time from the first append to the last dispatch.
 */
import { MessageQueue } from '../src/core/message-queue.js';
import { SettingsPolicy } from '../src/core/policy.js';
import { NaiveDebounce } from './baselines/naive-debounce.js';
import { fullGc, yieldToLoop, type GoalRow } from './goals.js';
import { interleave, median, now } from './lib.js';

/** Quiet window for both sides: short so the tail wait stays small next to the ingest time. */
export const WINDOW_MS = 50;
/** Both sides cut batches at this size (the engine's default `maxBatchSize`). */
export const MAX_BATCH = 10;
/** Messages appended between two event-loop turns, like a busy socket delivering a burst of requests. */
const CHUNK = 1_000;
const TEXT = 'x'.repeat(200);

export interface ThroughputResult {
  msgsPerSec: number;
  /** Messages per second of this process's CPU time (all threads, GC included): steadier on a shared host. */
  msgsPerCpuSec: number;
  batches: number;
}

function result(total: number, t0: number, tEnd: number, cpu0: NodeJS.CpuUsage, batches: number): ThroughputResult {
  const cpu = process.cpuUsage(cpu0);
  return { msgsPerSec: (total / (tEnd - t0)) * 1000, msgsPerCpuSec: (total / (cpu.user + cpu.system)) * 1e6, batches };
}

interface Done {
  onBatch: (size: number) => void;
  done: Promise<number>;
  batches: () => number;
}

/** Counts dispatched messages and resolves with the time the last one was dispatched. */
function completion(total: number): Done {
  let dispatched = 0;
  let batches = 0;
  let resolve!: (t: number) => void;
  const done = new Promise<number>((r) => (resolve = r));
  return {
    onBatch: (size) => {
      batches++;
      dispatched += size;
      if (dispatched === total) resolve(now());
    },
    done,
    batches: () => batches,
  };
}

function channelIds(channels: number): string[] {
  return Array.from({ length: channels }, (_, i) => `c${i}`);
}

/** The engine: default in-memory store, system clock and scheduler, a no-op async processor. */
export async function runEngine(channels: number, total: number, maxConcurrentBatches: number): Promise<ThroughputResult> {
  fullGc();
  const ids = channelIds(channels);
  const c = completion(total);
  const queue = new MessageQueue({
    processor: async (batch) => c.onBatch(batch.size),
    onReply: () => {},
    policy: new SettingsPolicy({ windowMs: WINDOW_MS, maxBatchSize: MAX_BATCH, maxWaitMs: 60_000 }),
    maxConcurrentBatches,
  });
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < total; i++) {
    await queue.enqueue({ id: `m${i}`, platform: 'bench', channelId: ids[i % channels]!, userId: 'u1', text: TEXT });
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  const tEnd = await c.done;
  const r = result(total, t0, tEnd, cpu0, c.batches());
  await queue.whenIdle();
  await queue.close();
  return r;
}

/** The naive debounce on the same workload. */
export async function runNaive(channels: number, total: number): Promise<ThroughputResult> {
  fullGc();
  const ids = channelIds(channels);
  const c = completion(total);
  const naive = new NaiveDebounce({
    windowMs: WINDOW_MS,
    maxBatchSize: MAX_BATCH,
    processor: async (batch) => c.onBatch(batch.messages.length),
  });
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < total; i++) {
    naive.push({ id: `m${i}`, platform: 'bench', channelId: ids[i % channels]!, userId: 'u1', text: TEXT });
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  const tEnd = await c.done;
  const r = result(total, t0, tEnd, cpu0, c.batches());
  naive.close();
  return r;
}

export interface CoreThroughputOptions {
  /** A/B pairs per configuration. @defaultValue 5 (3 at 100k channels, where one engine run takes seconds) */
  repeats?: number;
  /** Multiplies every configuration's message count (0.2 for a smoke run). @defaultValue 1 */
  scale?: number;
}

interface Config {
  channels: number;
  total: number;
  maxConcurrent: number;
  repeats: number;
}

const rate = (n: number) => `${(n / 1e6).toFixed(2)}M`;
const span = (runs: number[]) => `${rate(Math.min(...runs))}–${rate(Math.max(...runs))}`;

/** Rows for `npm run bench -- core`. */
export async function runCoreThroughput(log: (line: string) => void, options: CoreThroughputOptions = {}): Promise<GoalRow[]> {
  const scale = options.scale ?? 1;
  const n = (count: number) => Math.max(1_000, Math.round(count * scale));
  const configs: Config[] = [
    { channels: 1, total: n(500_000), maxConcurrent: 100_000, repeats: options.repeats ?? 5 },
    { channels: 1_000, total: n(500_000), maxConcurrent: 100_000, repeats: options.repeats ?? 5 },
    { channels: 100_000, total: n(300_000), maxConcurrent: 100_000, repeats: options.repeats ?? 3 },
    { channels: 100_000, total: n(300_000), maxConcurrent: 32, repeats: options.repeats ?? 3 },
  ];
  const rows: GoalRow[] = [];
  // Warm both paths so the JIT has compiled them before anything is timed.
  await runEngine(1_000, n(100_000), 100_000);
  await runNaive(1_000, n(100_000));
  for (const { channels, total, maxConcurrent, repeats } of configs) {
    const ours: ThroughputResult[] = [];
    const naive: ThroughputResult[] = [];
    const result = await interleave(
      repeats,
      async () => {
        const r = await runEngine(channels, total, maxConcurrent);
        ours.push(r);
        return r.msgsPerSec;
      },
      async () => {
        const r = await runNaive(channels, total);
        naive.push(r);
        return r.msgsPerSec;
      },
    );
    const cpuOurs = median(ours.map((r) => r.msgsPerCpuSec));
    const cpuNaive = median(naive.map((r) => r.msgsPerCpuSec));
    const capped = maxConcurrent < 100_000;
    log(
      `  S1 ${channels} ch, ${total} msgs, maxConcurrentBatches ${maxConcurrent}: ours ${span(result.oursRuns)} msgs/s (${ours[0]!.batches} batches) | naive ${span(result.baselineRuns)} (${naive[0]!.batches} batches) | per CPU-s ours ${rate(cpuOurs)} naive ${rate(cpuNaive)}`,
    );
    const atScale = channels >= 100_000 && !capped;
    const scenario = `S1 ingest→flush→dispatch ${channels} ch${capped ? ` cap ${maxConcurrent}` : ''}`;
    rows.push({
      scenario,
      metric: 'msgs/s',
      ours: result.ours,
      baseline: result.baseline,
      baselineName: 'naive clear+set/shift',
      higherIsBetter: true,
      ...(atScale ? { goal: '>= 3x and >= 1M/s', pass: result.ours >= 3 * result.baseline && result.ours >= 1e6 } : {}),
    });
    rows.push({ scenario, metric: 'msgs/CPU-s', ours: cpuOurs, baseline: cpuNaive, baselineName: 'naive clear+set/shift', higherIsBetter: true });
  }
  return rows;
}
