/**
 * Bus throughput: items/s fully consumed (every consumer's callback completed) through a `Channel`
 * with per-consumer bounded queues, against a plain `EventEmitter` delivering to the same number of
 * async listeners running the same body, in the same run (A/B interleaved, medians).
 *
 * The channel's producer awaits each `send` (the documented way to get backpressure); the emitter
 * emits in a tight loop (it has no backpressure to honour). Two listener bodies:
 * - `sync body`: an async function that never awaits, the worst case for the bus, whose per-item
 *   cost (queue, one await per callback to keep per-consumer FIFO) is then all overhead;
 * - `one await`: the body awaits once, like any callback that does I/O; the emitter then holds every
 *   in-flight call at once, the channel at most `queueSize` per consumer.
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

async function runChannel(body: Body, items: number, consumers: number): Promise<Rate> {
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
  const result = rate(items, t0, cpu0);
  await channel.stop();
  const dropped = channel.stats().reduce((n, s) => n + s.dropped, 0);
  if (dropped > 0) throw new Error(`bench: the channel dropped ${dropped} items`);
  return result;
}

async function runEmitter(body: Body, items: number, listeners: number): Promise<Rate> {
  gc?.();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(listeners + 1);
  const { work, done } = makeWork(body, items * listeners);
  for (let c = 0; c < listeners; c++) emitter.on('item', work);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let i = 0; i < items; i++) emitter.emit('item', { seq: i, platform: 'bench' });
  await done;
  const result = rate(items, t0, cpu0);
  emitter.removeAllListeners();
  return result;
}

/**
 * Rows for `npm run bench`: items/s for 1 and 10 consumers and both listener bodies (judged against
 * the 0.5x goal), plus items per CPU-second of the same runs (informative; steadier under load).
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
    // Warm both paths so the JIT has compiled them before anything is timed.
    await runChannel(body, 20_000, consumers);
    await runEmitter(body, 20_000, consumers);
    const ours: Rate[] = [];
    const base: Rate[] = [];
    for (let i = 0; i < repeats; i++) {
      ours.push(await runChannel(body, items, consumers));
      base.push(await runEmitter(body, items, consumers));
    }
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
