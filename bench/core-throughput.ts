/**
 * S1: ingest → flush → dispatch throughput of the in-memory engine against the naive debounce, same
 * workload, same process, interleaved A/B. A message counts once the processor was invoked for its batch;
 * the rate is messages over wall time from the first append to the last dispatch.
 */
import { MessageQueue } from '../src/core/message-queue.js';
import { DEFAULT_HOLD, SettingsPolicy, type ChannelSettings } from '../src/core/policy.js';
import { MinimalEngine } from './baselines/minimal-engine.js';
import { NaiveDebounce } from './baselines/naive-debounce.js';
import { fullGc, yieldToLoop, type GoalRow } from './goals.js';
import { interleave, median, now } from './lib.js';

/** Quiet window for the round-robin worst case: short so the tail wait stays small next to the ingest time. */
export const WINDOW_MS = 50;
/** Quiet window of the Zipf workload, as the benchmark plan in BENCHMARKS.md specifies. */
export const ZIPF_WINDOW_MS = 500;
/** Zipf exponent: a few hot channels, a long tail of quiet ones. */
const ZIPF_S = 1.1;

export type Workload = 'zipf' | 'round-robin';

/**
 * The channel index of every message, computed before timing so both sides replay the same sequence.
 * Round-robin: message i goes to channel i mod N (each channel's next message arrives after its window
 * closed: one message per batch, the dispatch path's worst case). Zipf: channel k is picked with weight
 * 1/(k+1)^s, like real chat traffic where a few rooms are busy and most are quiet.
 */
export function channelSequence(workload: Workload, channels: number, total: number, seed = 42): Int32Array {
  const seq = new Int32Array(total);
  if (workload === 'round-robin' || channels === 1) {
    for (let i = 0; i < total; i++) seq[i] = i % channels;
    return seq;
  }
  const cdf = new Float64Array(channels);
  let sum = 0;
  for (let k = 0; k < channels; k++) cdf[k] = sum += 1 / Math.pow(k + 1, ZIPF_S);
  let x = seed >>> 0;
  for (let i = 0; i < total; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0; // LCG: deterministic, cheap
    const u = (x / 4294967296) * sum;
    let lo = 0;
    let hi = channels - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    seq[i] = lo;
  }
  return seq;
}
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

type BenchMessage = { id: string; platform: string; channelId: string; userId: string; text: string };

/**
 * Feeds the workload to one side and times it: CHUNK messages per event-loop turn, a push that returns a
 * promise is awaited (the engines' enqueue), a synchronous one is not (the naive debounce's).
 */
async function drive(channels: number, total: number, seq: Int32Array, start: (onBatch: Done['onBatch']) => { push: (msg: BenchMessage) => unknown; stop: () => unknown }): Promise<ThroughputResult> {
  fullGc();
  const ids = channelIds(channels);
  const c = completion(total);
  const side = start(c.onBatch);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < total; i++) {
    const pushed = side.push({ id: `m${i}`, platform: 'bench', channelId: ids[seq[i]!]!, userId: 'u1', text: TEXT });
    if (pushed !== undefined) await pushed;
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  const tEnd = await c.done;
  const r = result(total, t0, tEnd, cpu0, c.batches());
  await side.stop();
  return r;
}

/** The engine: default in-memory store, system clock and scheduler, a no-op async processor. */
export function runEngine(channels: number, total: number, maxConcurrentBatches: number, seq: Int32Array = channelSequence('round-robin', channels, total), windowMs = WINDOW_MS, settings: Partial<ChannelSettings> = {}): Promise<ThroughputResult> {
  return drive(channels, total, seq, (onBatch) => {
    const queue = new MessageQueue({
      processor: async (batch) => onBatch(batch.size),
      onReply: () => {},
      policy: new SettingsPolicy({ windowMs, maxBatchSize: MAX_BATCH, maxWaitMs: 60_000, ...settings }),
      maxConcurrentBatches,
    });
    return { push: (msg) => queue.enqueue(msg), stop: async () => {
      await queue.whenIdle();
      await queue.close();
    } };
  });
}

/** The naive debounce on the same workload. */
export function runNaive(channels: number, total: number, seq: Int32Array = channelSequence('round-robin', channels, total), windowMs = WINDOW_MS): Promise<ThroughputResult> {
  return drive(channels, total, seq, (onBatch) => {
    const naive = new NaiveDebounce({ windowMs, maxBatchSize: MAX_BATCH, processor: async (batch) => onBatch(batch.messages.length) });
    return { push: (msg) => naive.push(msg), stop: () => naive.close() };
  });
}

/**
 * The minimal engine (bench/baselines/minimal-engine.ts) on the same workload: the ceiling for any engine
 * with MessageQueue's hot-path duties (async enqueue, a checked copy per message, an async processor per
 * batch), shown next to the naive debounce so the goal's ratio can be read against what is reachable.
 */
export function runMinimal(channels: number, total: number, seq: Int32Array, windowMs = WINDOW_MS): Promise<ThroughputResult> {
  return drive(channels, total, seq, (onBatch) => {
    const engine = new MinimalEngine({ windowMs, maxBatchSize: MAX_BATCH, processor: async (batch) => onBatch(batch.messages.length) });
    return { push: (msg) => engine.enqueue(msg), stop: () => engine.close() };
  });
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
  workload: Workload;
}

const rate = (n: number) => `${(n / 1e6).toFixed(2)}M`;
const span = (runs: number[]) => `${rate(Math.min(...runs))}–${rate(Math.max(...runs))}`;

/** Rows for `npm run bench -- core`. */
export async function runCoreThroughput(log: (line: string) => void, options: CoreThroughputOptions = {}): Promise<GoalRow[]> {
  const scale = options.scale ?? 1;
  const n = (count: number) => Math.max(1_000, Math.round(count * scale));
  const configs: Config[] = [
    { channels: 1, total: n(500_000), maxConcurrent: 100_000, repeats: options.repeats ?? 5, workload: 'zipf' },
    { channels: 1_000, total: n(1_000_000), maxConcurrent: 100_000, repeats: options.repeats ?? 3, workload: 'zipf' },
    { channels: 100_000, total: n(1_000_000), maxConcurrent: 100_000, repeats: options.repeats ?? 3, workload: 'zipf' },
    { channels: 100_000, total: n(1_000_000), maxConcurrent: 32, repeats: options.repeats ?? 3, workload: 'zipf' },
    { channels: 100_000, total: n(300_000), maxConcurrent: 100_000, repeats: options.repeats ?? 3, workload: 'round-robin' },
  ];
  const rows: GoalRow[] = [];
  // Warm both paths so the JIT has compiled them before anything is timed.
  await runEngine(1_000, n(100_000), 100_000);
  await runNaive(1_000, n(100_000));
  for (const { channels, total, maxConcurrent, repeats, workload } of configs) {
    const seq = channelSequence(workload, channels, total);
    const windowMs = workload === 'zipf' ? ZIPF_WINDOW_MS : WINDOW_MS;
    const ours: ThroughputResult[] = [];
    const naive: ThroughputResult[] = [];
    const minimal: ThroughputResult[] = [];
    const withMinimal = workload === 'zipf' && maxConcurrent >= 100_000;
    const result = await interleave(
      repeats,
      async () => {
        const r = await runEngine(channels, total, maxConcurrent, seq, windowMs);
        ours.push(r);
        return r.msgsPerSec;
      },
      async () => {
        const r = await runNaive(channels, total, seq, windowMs);
        naive.push(r);
        // The ceiling side runs right after, so all three share the host's moment.
        if (withMinimal) minimal.push(await runMinimal(channels, total, seq, windowMs));
        return r.msgsPerSec;
      },
    );
    const cpuOurs = median(ours.map((r) => r.msgsPerCpuSec));
    const cpuNaive = median(naive.map((r) => r.msgsPerCpuSec));
    const capped = maxConcurrent < 100_000;
    log(
      `  S1 ${workload} ${channels} ch, ${total} msgs, window ${windowMs} ms, maxConcurrentBatches ${maxConcurrent}: ours ${span(result.oursRuns)} msgs/s (${ours[0]!.batches} batches) | naive ${span(result.baselineRuns)} (${naive[0]!.batches} batches) | per CPU-s ours ${rate(cpuOurs)} naive ${rate(cpuNaive)}`,
    );
    // The goal is judged on the planned workload (Zipf, 500 ms); round-robin is the worst case, shown for information.
    const atScale = channels >= 100_000 && !capped && workload === 'zipf';
    const scenario = `S1 ${workload === 'zipf' ? 'zipf' : 'round-robin (1 msg/batch)'} ${channels} ch${capped ? ` cap ${maxConcurrent}` : ''}`;
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
    if (withMinimal) {
      const ceiling = `${scenario}: minimal engine`;
      const minRate = median(minimal.map((r) => r.msgsPerSec));
      const minCpu = median(minimal.map((r) => r.msgsPerCpuSec));
      log(`  S1 ${workload} ${channels} ch: minimal engine ${span(minimal.map((r) => r.msgsPerSec))} msgs/s, ${rate(minCpu)} per CPU-s (the ceiling for any engine with these duties)`);
      rows.push({ scenario: ceiling, metric: 'msgs/s', ours: minRate, baseline: result.baseline, baselineName: 'naive clear+set/shift', higherIsBetter: true });
      rows.push({ scenario: ceiling, metric: 'msgs/CPU-s', ours: minCpu, baseline: cpuNaive, baselineName: 'naive clear+set/shift', higherIsBetter: true });
    }
  }
  rows.push(...(await runHoldsComparison(log, n(1_000_000), options.repeats ?? 3)));
  return rows;
}

/**
 * S1 with content holds on (the default rules, evaluated on every message) against off (`hold: { rules:
 * [] }`), same Zipf workload (1,000 channels, 500 ms), interleaved: what the turn rules cost on the hot path.
 */
async function runHoldsComparison(log: (line: string) => void, total: number, repeats: number): Promise<GoalRow[]> {
  const channels = 1_000;
  const seq = channelSequence('zipf', channels, total);
  const on: ThroughputResult[] = [];
  const off: ThroughputResult[] = [];
  const result = await interleave(
    repeats,
    async () => {
      const r = await runEngine(channels, total, 100_000, seq, ZIPF_WINDOW_MS, { hold: DEFAULT_HOLD });
      on.push(r);
      return r.msgsPerSec;
    },
    async () => {
      const r = await runEngine(channels, total, 100_000, seq, ZIPF_WINDOW_MS, { hold: { ...DEFAULT_HOLD, rules: [] } });
      off.push(r);
      return r.msgsPerSec;
    },
  );
  const cpuOn = median(on.map((r) => r.msgsPerCpuSec));
  const cpuOff = median(off.map((r) => r.msgsPerCpuSec));
  log(`  S1 holds zipf ${channels} ch, ${total} msgs: holds on ${span(result.oursRuns)} msgs/s | off ${span(result.baselineRuns)} | ratio ${(result.ours / result.baseline).toFixed(3)}x wall, ${(cpuOn / cpuOff).toFixed(3)}x per CPU-s`);
  const scenario = `S1 zipf ${channels} ch: holds on vs off`;
  return [
    { scenario, metric: 'msgs/s', ours: result.ours, baseline: result.baseline, baselineName: 'holds off', higherIsBetter: true, goal: '>= 0.95x' },
    { scenario, metric: 'msgs/CPU-s', ours: cpuOn, baseline: cpuOff, baselineName: 'holds off', higherIsBetter: true, goal: '>= 0.95x' },
  ];
}
