/**
 * Bus throughput: items/s fully consumed (every consumer's callback completed) through a `Channel`
 * with per-consumer bounded queues, against a plain `EventEmitter` delivering to the same number of
 * listeners running the same body, in the same run (A/B interleaved, medians).
 *
 * The channel's producer uses `write()` and awaits only when it returns a promise (a queue is full:
 * backpressure); the emitter emits in a tight loop (it has none to honour). Two listener bodies:
 * - `sync body`: a plain function, the worst case for the bus, whose per-item cost (queueing, one
 *   consumer loop per consumer) is then all overhead;
 * - `one await`: the body awaits once, like any callback that does I/O; the emitter then holds every
 *   in-flight call at once, the channel at most `queueSize` per consumer.
 *
 * Every timed run builds a fresh channel (or emitter) after a forced full GC. The warm-up run of each
 * side stays open until the scenario's timed runs are done: see {@link runBusBench}.
 */
import { EventEmitter } from 'node:events';
import { Channel } from '../src/bus/channel.js';
import { median, now, type BenchRow } from './lib.js';

interface Item {
  seq: number;
  platform: string;
}

type Body = 'sync body' | 'one await';

const gc = (globalThis as { gc?: () => void }).gc;

/** One timed run: wall-clock rate, and rate per second of this process's CPU time (steadier on a shared host). */
interface Rate {
  perSec: number;
  perCpuSec: number;
}

/** A finished run and how to release its channel or emitter. */
interface Run {
  rate: Rate;
  close: () => Promise<void>;
}

function rate(items: number, t0: number, cpu0: NodeJS.CpuUsage): Rate {
  const elapsed = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { perSec: (items / elapsed) * 1000, perCpuSec: (items / (cpu.user + cpu.system)) * 1e6 };
}

/** The listener both sides run, and a promise settled when `target` calls have completed. */
function makeWork(body: Body, target: number): { work: (item: Item) => void | Promise<void>; done: Promise<void> } {
  let completed = 0;
  let acc = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const work =
    body === 'sync body'
      ? (item: Item): void => {
          acc = (acc + item.seq * 31) | 0;
          if (++completed === target) resolve();
        }
      : async (item: Item): Promise<void> => {
          await null;
          acc = (acc + item.seq * 31) | 0;
          if (++completed === target) resolve();
        };
  return { work, done };
}

async function runChannel(body: Body, items: number, consumers: number): Promise<Run> {
  gc?.();
  const channel = new Channel<Item>({ name: 'bench', queueSize: 1_000 });
  const { work, done } = makeWork(body, items * consumers);
  for (let c = 0; c < consumers; c++) channel.newConsumer(work);
  const producer = channel.internalProducer;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  // write() is the producer's hot-loop API: synchronous while queues have room, a promise only when one is full.
  for (let i = 0; i < items; i++) {
    const r = producer.write({ seq: i, platform: 'bench' });
    if (typeof r !== 'number') await r;
  }
  await done;
  const close = async (): Promise<void> => {
    await channel.stop();
    const dropped = channel.stats().reduce((n, s) => n + s.dropped, 0);
    if (dropped > 0) throw new Error(`bench: the channel dropped ${dropped} items`);
  };
  return { rate: rate(items, t0, cpu0), close };
}

async function runEmitter(body: Body, items: number, listeners: number): Promise<Run> {
  gc?.();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(listeners + 1);
  const { work, done } = makeWork(body, items * listeners);
  for (let c = 0; c < listeners; c++) emitter.on('item', work);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < items; i++) emitter.emit('item', { seq: i, platform: 'bench' });
  await done;
  const close = async (): Promise<void> => {
    emitter.removeAllListeners();
  };
  return { rate: rate(items, t0, cpu0), close };
}

/** Runs `run` and releases what it built before the next run. */
async function timed(run: Promise<Run>): Promise<Rate> {
  const { rate: result, close } = await run;
  await close();
  return result;
}

/**
 * Rows for `npm run bench`: items/s for 1 and 10 consumers and both listener bodies (judged against
 * the 0.5x goal), plus items per CPU-second of the same runs (informative; steadier under load).
 *
 * Each side first runs once untimed at full size, and that warm-up channel (or emitter) stays open
 * until the timed runs are done. Closing it at once let the forced GC before each timed run collect
 * the bus's hidden classes (no instance left) and the optimized code built on them, so every timed
 * run started cold: its first 100k items went 10-20x slower than the rest. EventEmitter's classes
 * never die (Node keeps emitters alive), so only the bus paid. A gateway keeps its channels for its
 * whole life, so a warm bus is the one to measure.
 */
export async function runBusBench(log: (line: string) => void, opts: { repeats?: number } = {}): Promise<BenchRow[]> {
  const repeats = opts.repeats ?? 5;
  const wallRows: BenchRow[] = [];
  const cpuRows: BenchRow[] = [];
  const scenarios: Array<[Body, number, number]> = [
    ['sync body', 1, 1_000_000],
    ['sync body', 10, 200_000],
    ['one await', 1, 200_000],
    ['one await', 10, 50_000],
  ];
  for (const [body, consumers, items] of scenarios) {
    // Warm both paths so the JIT has compiled them before anything is timed, and keep them open.
    const warmUp = [await runChannel(body, items, consumers), await runEmitter(body, items, consumers)];
    const ours: Rate[] = [];
    const base: Rate[] = [];
    for (let i = 0; i < repeats; i++) {
      ours.push(await timed(runChannel(body, items, consumers)));
      base.push(await timed(runEmitter(body, items, consumers)));
    }
    for (const run of warmUp) await run.close();
    const runs = (xs: Rate[]): string => xs.map((r) => `${(r.perSec / 1e3).toFixed(0)}k`).join(' ');
    log(`  bus ${body}, ${consumers} consumer(s): channel ${runs(ours)} | emitter ${runs(base)} items/s`);
    const scenario = `bus ${consumers === 1 ? '1 consumer' : `${consumers} consumers`}, ${body}`;
    wallRows.push({
      scenario,
      metric: 'items/s',
      ours: median(ours.map((r) => r.perSec)),
      baseline: median(base.map((r) => r.perSec)),
      baselineName: 'EventEmitter',
      higherIsBetter: true,
      goal: '>= 0.5x',
    });
    cpuRows.push({
      scenario,
      metric: 'items/CPU-s',
      ours: median(ours.map((r) => r.perCpuSec)),
      baseline: median(base.map((r) => r.perCpuSec)),
      baselineName: 'EventEmitter',
      higherIsBetter: true,
    });
  }
  return [...wallRows, ...cpuRows];
}
