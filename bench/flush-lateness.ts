/**
 * S2: flush lateness (actual − deadline) of the engine's one-timer deadline heap against one Node timer
 * per channel. Each run arms N windows (one message on each of N channels) and records, per flush, how far
 * after its deadline it happened. Negative means the window closed early, which the engine must never do.
 */
import { performance } from 'node:perf_hooks';
import { systemClock } from '../src/core/clock.js';
import { QueueEventType } from '../src/core/events.js';
import { MessageQueue } from '../src/core/message-queue.js';
import { SettingsPolicy } from '../src/core/policy.js';
import { MinimalEngine } from './baselines/minimal-engine.js';
import { NaiveDebounce } from './baselines/naive-debounce.js';
import { fullGc, yieldToLoop, type GoalRow } from './goals.js';
import { median, percentile } from './lib.js';

/** `burst`: all N appended back to back in one macrotask; `spread`: N appends paced evenly over 1 s. */
export type ArmPattern = 'burst' | 'spread';

const SPREAD_MS = 1_000;
const SLICES = 1_000;
const TEXT = 'x'.repeat(200);

interface LatenessStats {
  p50: number;
  p99: number;
  max: number;
  min: number;
}

function stats(samples: number[]): LatenessStats {
  const sorted = samples.sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)!, min: sorted[0]! };
}

/** Calls `arm(i)` for i in [0, n): at once, or in SLICES slices paced over SPREAD_MS of wall time. */
async function armAll(n: number, pattern: ArmPattern, arm: (i: number) => void | Promise<void>): Promise<void> {
  if (pattern === 'burst') {
    for (let i = 0; i < n; i++) await arm(i);
    return;
  }
  const t0 = performance.now();
  let i = 0;
  for (let slice = 1; slice <= SLICES; slice++) {
    // Spin on setImmediate until the slice is due, so the loop keeps turning (timers fire) meanwhile.
    while (performance.now() - t0 < (slice * SPREAD_MS) / SLICES) await yieldToLoop();
    const end = Math.round((slice * n) / SLICES);
    for (; i < end; i++) await arm(i);
  }
}

const message = (i: number) => ({ id: `m${i}`, platform: 'bench', channelId: `c${i}`, userId: 'u1', text: TEXT });
/** The channel key of window i is CHANNEL_PREFIX + i. */
const CHANNEL_PREFIX = 'bench:c';

/**
 * Engine side. `reported`: event.at − event.deadline; `observed`: the listener's own clock − deadline;
 * `started`: when the window's batch started (its `batch.started` event) − deadline. The engine seals
 * due windows ahead of starting batches, so `started` is the figure to hold against the naive timers,
 * whose callback both closes the window and calls the processor.
 */
export async function engineLateness(n: number, pattern: ArmPattern, windowMs: number): Promise<{ reported: LatenessStats; observed: LatenessStats; started: LatenessStats }> {
  fullGc();
  const reported: number[] = [];
  const observed: number[] = [];
  const started: number[] = [];
  // Window i is channel `c<i>`: its deadline is kept by index, not in a Map keyed by batch id (a Map of
  // 100k fresh string keys cost the listener, on the engine's thread, more than some engine steps).
  const deadlineOf = new Float64Array(n);
  const indexOf = (channelKey: string) => Number(channelKey.slice(CHANNEL_PREFIX.length));
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const queue = new MessageQueue({
    processor: async () => {},
    onReply: () => {},
    policy: new SettingsPolicy({ windowMs, maxBatchSize: 10, maxWaitMs: 600_000 }),
    maxConcurrentBatches: 100_000,
  });
  queue.on((event) => {
    if (event.type === QueueEventType.Started) {
      started.push(event.at - deadlineOf[indexOf(event.channelKey)]!);
      return;
    }
    if (event.type !== QueueEventType.Flushed) return;
    observed.push(systemClock.now() - event.deadline);
    reported.push(event.at - event.deadline);
    deadlineOf[indexOf(event.channelKey)] = event.deadline;
    if (reported.length === n) resolve();
  });
  await armAll(n, pattern, async (i) => {
    await queue.enqueue(message(i));
  });
  await done;
  await queue.whenIdle();
  await queue.close();
  return { reported: stats(reported), observed: stats(observed), started: stats(started) };
}

type OnTimerFlush = (deadline: number, actual: number) => void;

/** A side that reports each timer flush itself: arms N windows and collects actual − deadline per flush. */
async function timerSideLateness(n: number, pattern: ArmPattern, start: (onTimerFlush: OnTimerFlush) => { push: (msg: ReturnType<typeof message>) => unknown; close: () => void }): Promise<LatenessStats> {
  fullGc();
  const samples: number[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const side = start((deadline, actual) => {
    samples.push(actual - deadline);
    if (samples.length === n) resolve();
  });
  await armAll(n, pattern, async (i) => {
    const pushed = side.push(message(i));
    if (pushed !== undefined) await pushed;
  });
  await done;
  side.close();
  return stats(samples);
}

/** Naive side: performance.now() in each channel's setTimeout callback minus the deadline it was set for. */
export function naiveLateness(n: number, pattern: ArmPattern, windowMs: number): Promise<LatenessStats> {
  return timerSideLateness(n, pattern, (onTimerFlush) => {
    const naive = new NaiveDebounce({ windowMs, maxBatchSize: 10, processor: async () => {}, onTimerFlush });
    return { push: (msg) => naive.push(msg), close: () => naive.close() };
  });
}

/**
 * The minimal engine (one heap, one timer, like ours, and nothing else): what the deadline-heap design
 * itself gives against a timer per channel, apart from everything else the engine does per window.
 */
export function minimalLateness(n: number, pattern: ArmPattern, windowMs: number): Promise<LatenessStats> {
  return timerSideLateness(n, pattern, (onTimerFlush) => {
    const engine = new MinimalEngine({ windowMs, maxBatchSize: 10, processor: async () => {}, onTimerFlush });
    return { push: (msg) => engine.enqueue(msg), close: () => engine.close() };
  });
}

export interface FlushLatenessOptions {
  repeats?: number;
  sizes?: number[];
}

const ms = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
const show = (s: LatenessStats) => `p50 ${ms(s.p50)} p99 ${ms(s.p99)} max ${ms(s.max)} min ${ms(s.min)}`;

/**
 * Window per case: long enough that arming all N ends before the first deadline on either side, so the
 * figure is timer precision and flush work, not "the deadline passed while we were still appending".
 */
function windowFor(n: number, pattern: ArmPattern): number {
  if (pattern === 'spread') return 100;
  return n >= 100_000 ? 3_000 : 500;
}

/** Rows for `npm run bench -- lateness`. */
export async function runFlushLateness(log: (line: string) => void, options: FlushLatenessOptions = {}): Promise<GoalRow[]> {
  const repeats = options.repeats ?? 3;
  const rows: GoalRow[] = [];
  await engineLateness(1_000, 'burst', 50); // warm-up
  await naiveLateness(1_000, 'burst', 50);
  for (const n of options.sizes ?? [1_000, 100_000]) {
    for (const pattern of ['spread', 'burst'] as const) {
      const windowMs = windowFor(n, pattern);
      const ours: Array<{ reported: LatenessStats; observed: LatenessStats; started: LatenessStats }> = [];
      const naive: LatenessStats[] = [];
      const minimal: LatenessStats[] = [];
      for (let r = 0; r < repeats; r++) {
        ours.push(await engineLateness(n, pattern, windowMs));
        naive.push(await naiveLateness(n, pattern, windowMs));
        minimal.push(await minimalLateness(n, pattern, windowMs));
      }
      for (let r = 0; r < repeats; r++) {
        log(`  S2 ${n} ${pattern} W=${windowMs}ms run ${r + 1}: ours ${show(ours[r]!.reported)} (listener: ${show(ours[r]!.observed)}; batch started: ${show(ours[r]!.started)}) | naive ${show(naive[r]!)} | minimal engine ${show(minimal[r]!)}`);
      }
      const med = (pick: (s: LatenessStats) => number, side: LatenessStats[]) => median(side.map(pick));
      const reported = ours.map((o) => o.reported);
      const scenario = `S2 lateness ${n} windows ${pattern}`;
      const base = { scenario, baselineName: 'naive setTimeout/ch', higherIsBetter: false };
      const oursP99 = med((s) => s.p99, reported);
      const naiveP99 = med((s) => s.p99, naive);
      const oursMin = Math.min(...reported.map((s) => s.min), ...ours.map((o) => o.observed.min));
      rows.push({ ...base, metric: 'p50 ms', ours: med((s) => s.p50, reported), baseline: med((s) => s.p50, naive) });
      rows.push({ ...base, metric: 'p99 ms', ours: oursP99, baseline: naiveP99, goal: '<= naive p99', pass: oursP99 <= naiveP99 });
      rows.push({ ...base, metric: 'max ms', ours: med((s) => s.max, reported), baseline: med((s) => s.max, naive) });
      // Information: our batch starts against the naive timers (their flush and start are one callback).
      rows.push({ ...base, metric: 'start p99 ms', ours: med((s) => s.p99, ours.map((o) => o.started)), baseline: naiveP99 });
      // Information: the same heap-and-one-timer design with nothing else, against the same naive timers.
      rows.push({ ...base, scenario: `${scenario}: minimal engine`, metric: 'p99 ms', ours: med((s) => s.p99, minimal), baseline: naiveP99 });
      rows.push({ ...base, metric: 'min ms', ours: oursMin, baseline: Math.min(...naive.map((s) => s.min)), goal: 'ours >= 0', pass: oursMin >= 0 });
    }
  }
  return rows;
}
