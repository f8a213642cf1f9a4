/**
 * Bus throughput: items/s fully consumed (callbacks completed) through a `Channel` with per-consumer
 * bounded queues, against a plain `EventEmitter` delivering to the same number of async listeners
 * doing the same work, in the same run (interleaved A/B).
 */
import { EventEmitter } from 'node:events';
import { Channel } from '../src/bus/channel.js';
import { interleave, now, type BenchRow } from './lib.js';

interface Item {
  seq: number;
  platform: string;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** The listener body both sides run: a little arithmetic, then count the completion. */
function makeWork(target: number): { work: (item: Item) => Promise<void>; done: Promise<void>; sink: () => number } {
  let completed = 0;
  let acc = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const work = async (item: Item): Promise<void> => {
    acc = (acc + item.seq * 31) | 0;
    if (++completed === target) resolve();
  };
  return { work, done, sink: () => acc };
}

async function runChannel(items: number, consumers: number): Promise<number> {
  gc?.();
  const channel = new Channel<Item>({ name: 'bench', queueSize: 1_000 });
  const { work, done } = makeWork(items * consumers);
  for (let c = 0; c < consumers; c++) channel.newConsumer(work);
  const producer = channel.internalProducer;
  const t0 = now();
  for (let i = 0; i < items; i++) await producer.send({ seq: i, platform: 'bench' });
  await done;
  const elapsed = now() - t0;
  await channel.stop();
  return (items / elapsed) * 1000;
}

async function runEmitter(items: number, listeners: number): Promise<number> {
  gc?.();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(listeners + 1);
  const { work, done } = makeWork(items * listeners);
  for (let c = 0; c < listeners; c++) emitter.on('item', work);
  const t0 = now();
  for (let i = 0; i < items; i++) emitter.emit('item', { seq: i, platform: 'bench' });
  await done;
  const elapsed = now() - t0;
  emitter.removeAllListeners();
  return (items / elapsed) * 1000;
}

/** Rows for `npm run bench`: 1 and 10 consumers. */
export async function runBusBench(log: (line: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [consumers, items] of [
    [1, 200_000],
    [10, 50_000],
  ] as const) {
    // Warm both paths so the JIT has compiled them before anything is timed.
    await runChannel(20_000, consumers);
    await runEmitter(20_000, consumers);
    const result = await interleave(5, () => runChannel(items, consumers), () => runEmitter(items, consumers));
    log(`bus ${consumers} consumer(s): channel runs ${result.oursRuns.map((n) => n.toFixed(0)).join(', ')} | emitter runs ${result.baselineRuns.map((n) => n.toFixed(0)).join(', ')}`);
    rows.push({
      scenario: `bus: ${consumers} consumer${consumers === 1 ? '' : 's'}, ${items} items`,
      metric: 'items/s',
      ours: result.ours,
      baseline: result.baseline,
      baselineName: 'EventEmitter (async)',
      higherIsBetter: true,
      goal: '>= 0.5x',
    });
  }
  return rows;
}
