/**
 * S3: heap bytes per channel after its traffic is over (idle), against the floor of a bare `Map` entry,
 * plus live `Timeout` handles; and, as an informative extra, bytes per channel while its window is open,
 * against the naive debounce holding the same message and one live timer per channel.
 */
import { MessageQueue } from '../src/core/message-queue.js';
import { SettingsPolicy } from '../src/core/policy.js';
import { bareMap } from './baselines/bare-map.js';
import { NaiveDebounce } from './baselines/naive-debounce.js';
import { fullGc, yieldToLoop, type GoalRow } from './goals.js';

const TEXT = 'x'.repeat(200);
const CHUNK = 1_000;
const message = (i: number) => ({ id: `m${i}`, platform: 'bench', channelId: `c${i}`, userId: 'u1', text: TEXT });
const keyOf = (i: number) => `bench:c${i}`;

function heapAfterGc(): number {
  fullGc();
  return process.memoryUsage().heapUsed;
}

/** Active `Timeout` resources in this process (ref'd or not). */
export function liveTimeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** Keeps a value reachable until after the measurement, so the collector cannot take it early. */
let sink: unknown;

/** The engine after N channels each got one message, flushed and processed: bytes/channel and timers. */
export async function engineIdle(channels: number): Promise<{ bytesPerChannel: number; timers: number; activeChannels: number }> {
  const timersBefore = liveTimeouts();
  const before = heapAfterGc();
  let processed = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const queue = new MessageQueue({
    processor: async () => {
      if (++processed === channels) resolve();
    },
    onReply: () => {},
    policy: new SettingsPolicy({ windowMs: 5 }),
    maxConcurrentBatches: 100_000,
  });
  for (let i = 0; i < channels; i++) {
    await queue.enqueue(message(i));
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  await done;
  await queue.whenIdle();
  await yieldToLoop(); // let the finished batches' bookkeeping settle
  const after = heapAfterGc();
  const timers = liveTimeouts() - timersBefore;
  const activeChannels = queue.activeChannels();
  sink = queue;
  await queue.close();
  sink = null;
  return { bytesPerChannel: (after - before) / channels, timers, activeChannels };
}

/** The floor: a Map from the same key strings to a 4-field object. */
export function floorIdle(channels: number): number {
  const before = heapAfterGc();
  const map = bareMap(channels, keyOf);
  const after = heapAfterGc();
  sink = map;
  sink = null;
  return (after - before) / channels;
}

/** The engine with N open windows (one message each, a 60 s window): bytes/channel and timers. */
export async function engineOpen(channels: number): Promise<{ bytesPerChannel: number; timers: number }> {
  const timersBefore = liveTimeouts();
  const before = heapAfterGc();
  const queue = new MessageQueue({
    processor: async () => {},
    onReply: () => {},
    policy: new SettingsPolicy({ windowMs: 60_000, maxWaitMs: 120_000 }),
  });
  for (let i = 0; i < channels; i++) await queue.enqueue(message(i));
  const after = heapAfterGc();
  const timers = liveTimeouts() - timersBefore;
  await queue.close();
  return { bytesPerChannel: (after - before) / channels, timers };
}

/** The naive debounce with N open windows: a Map entry, the message and one live Timeout per channel. */
export function naiveOpen(channels: number): { bytesPerChannel: number; timers: number } {
  const timersBefore = liveTimeouts();
  const before = heapAfterGc();
  const naive = new NaiveDebounce({ windowMs: 60_000, processor: async () => {} });
  for (let i = 0; i < channels; i++) naive.push(message(i));
  const after = heapAfterGc();
  const timers = liveTimeouts() - timersBefore;
  naive.close();
  return { bytesPerChannel: (after - before) / channels, timers };
}

export interface IdleMemoryOptions {
  sizes?: number[];
}

/** Rows for `npm run bench -- memory`. */
export async function runIdleMemory(log: (line: string) => void, options: IdleMemoryOptions = {}): Promise<GoalRow[]> {
  const rows: GoalRow[] = [];
  await engineIdle(2_000); // warm-up: code paths and the queue's one-off structures
  for (const n of options.sizes ?? [10_000, 100_000]) {
    const floor = floorIdle(n);
    const idle = await engineIdle(n);
    log(`  S3 ${n} idle: ours ${idle.bytesPerChannel.toFixed(1)} B/ch, ${idle.timers} live Timeouts, ${idle.activeChannels} channels held | floor Map entry ${floor.toFixed(1)} B/ch`);
    const scenario = `S3 idle channels ${n}`;
    rows.push({
      scenario,
      metric: 'heap B/ch',
      ours: idle.bytesPerChannel,
      baseline: floor,
      baselineName: 'bare Map entry',
      higherIsBetter: false,
      goal: '<= 1.3x',
      pass: idle.bytesPerChannel <= 1.3 * floor,
    });
    rows.push({ scenario, metric: 'live Timeouts', ours: idle.timers, baseline: 0, baselineName: 'bare Map entry', higherIsBetter: false, goal: 'ours 0', pass: idle.timers === 0 });
  }
  for (const n of options.sizes ?? [10_000, 100_000]) {
    const open = await engineOpen(n);
    const naive = naiveOpen(n);
    log(`  S3 ${n} open windows: ours ${open.bytesPerChannel.toFixed(1)} B/ch, ${open.timers} live Timeouts | naive ${naive.bytesPerChannel.toFixed(1)} B/ch, ${naive.timers} live Timeouts`);
    const scenario = `S3 open windows ${n} (info)`;
    rows.push({ scenario, metric: 'heap B/ch', ours: open.bytesPerChannel, baseline: naive.bytesPerChannel, baselineName: 'naive Map+Timeout', higherIsBetter: false });
    rows.push({ scenario, metric: 'live Timeouts', ours: open.timers, baseline: naive.timers, baselineName: 'naive Map+Timeout', higherIsBetter: false });
  }
  return rows;
}
