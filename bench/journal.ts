/**
 * Journal: ingest msgs per CPU-second of the embedded engine with the crash journal off, `everysec` and
 * `always`, interleaved in one process, same workload (Zipf over 1,000 channels, batches of 10, window
 * 50 ms, a no-op processor). Messages arrive CHUNK per event-loop turn, as a busy socket delivers
 * requests, and each is counted once its acceptance was answered and its batch dispatched, so every
 * journal record (append, seal, take, finish) is paid for. Then the journal's size on disk while 1M
 * messages go through it with compaction.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MessageQueue } from '../src/core/message-queue.js';
import { SettingsPolicy } from '../src/core/policy.js';
import { FileJournal, type JournalSync } from '../src/state/journal.js';
import { channelSequence } from './core-throughput.js';
import { fullGc, yieldToLoop, type GoalRow } from './goals.js';
import { median } from './lib.js';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { parseConfig } from '../src/config/load.js';
import { createGateway } from '../src/gateway.js';
import { silentLogger } from '../src/logger.js';
import { firstMessage, rpc, threadSchedMs } from './webhook-e2e.js';

const CHUNK = 1_000;
const CHANNELS = 1_000;
const TEXT = 'x'.repeat(200);

type Mode = JournalSync | 'off';

interface RunResult {
  msgsPerCpuSec: number;
  /** Largest journal directory seen (bytes), sampled after every chunk. */
  peakBytes: number;
  finalBytes: number;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(path.join(dir, f)).size;
  return n;
}

export async function runOnce(mode: Mode, total: number, seq: Int32Array, sampleSize = false): Promise<RunResult> {
  fullGc();
  const dir = mkdtempSync(path.join(tmpdir(), 'bg-bench-journal-'));
  const journal = mode === 'off' ? undefined : FileJournal.open({ dir, fsync: mode });
  let dispatched = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const queue = new MessageQueue({
    processor: async (batch) => {
      dispatched += batch.size;
      if (dispatched === total) resolveDone();
    },
    onReply: () => {},
    policy: new SettingsPolicy({ windowMs: 50, maxBatchSize: 10, maxWaitMs: 60_000 }),
    maxConcurrentBatches: 100_000,
    ...(journal ? { journal } : {}),
  });
  const ids = Array.from({ length: CHANNELS }, (_, i) => `c${i}`);
  let peakBytes = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < total; i += CHUNK) {
    const answers: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(total, i + CHUNK); j++) answers.push(queue.enqueue({ id: `m${j}`, platform: 'bench', channelId: ids[seq[j]!]!, userId: 'u1', text: TEXT }));
    await Promise.all(answers);
    await yieldToLoop();
    if (sampleSize && journal) peakBytes = Math.max(peakBytes, dirBytes(dir));
  }
  await done;
  const cpu = process.cpuUsage(cpu0);
  await queue.whenIdle();
  await queue.close();
  await journal?.close();
  const finalBytes = journal ? dirBytes(dir) : 0;
  rmSync(dir, { recursive: true, force: true });
  return { msgsPerCpuSec: (total / (cpu.user + cpu.system)) * 1e6, peakBytes, finalBytes };
}

/**
 * The same through the real gateway over HTTP: the webhook adapter (fastify, validation, dedupe) and the
 * engine in this thread, autocannon (32 connections, closed loop) in a worker; the rate is 202s per CPU
 * second of the gateway's thread (the thread pool's fdatasync is not in it).
 */
async function webhookOnce(mode: Mode, load: (msg: Record<string, unknown>) => Promise<any>, seconds: number): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bg-bench-journal-http-'));
  const config = parseConfig(
    {
      http: { host: '127.0.0.1', port: 0 },
      adapters: { web: { enabled: false }, webhook: { enabled: true } },
      batching: { maxConcurrentBatches: 1_000, defaults: { windowMs: 50, maxBatchSize: 10, maxWaitMs: 60_000 } },
      state: { spoolPath: path.join(dir, 'spool.jsonl'), journal: { fsync: mode } },
    },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger(), processor: async () => {} });
  await gateway.start();
  fullGc();
  const cpu0 = threadSchedMs().cpuMs;
  const m = await load({ opts: { url: gateway.url, connections: 32, duration: seconds, webhook: true, zipf: true, prefix: `j${mode}${Date.now()}` } });
  const cpuMs = threadSchedMs().cpuMs - cpu0;
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
  if (m.error) throw new Error(`load generator failed: ${m.error}`);
  return (m.result.ok as number) / (cpuMs / 1000);
}

async function runWebhookJournal(log: (line: string) => void, repeats: number): Promise<GoalRow[]> {
  const require = createRequire(import.meta.url);
  const worker = new Worker(new URL('./webhook/load-worker.cjs', import.meta.url), {
    workerData: { autocannonPath: require.resolve('autocannon'), undiciPath: require.resolve('undici'), zipf: channelSequence('zipf', CHANNELS, 100_000) },
  });
  await firstMessage(worker);
  const load = rpc(worker);
  try {
    await webhookOnce('off', load, 2); // warm-up
    const runs: Record<Mode, number[]> = { off: [], everysec: [], always: [] };
    for (let r = 0; r < repeats; r++) for (const mode of ['off', 'everysec', 'always'] as const) runs[mode].push(await webhookOnce(mode, load, 3));
    const off = median(runs.off);
    const everysec = median(runs.everysec);
    const always = median(runs.always);
    log(`  journal over HTTP (webhook, 32 connections, zipf ${CHANNELS} ch): 202s per CPU-s of the gateway thread (median of ${repeats}): off ${rate(off)}, everysec ${rate(everysec)} (${(everysec / off).toFixed(2)}x), always ${rate(always)} (${(always / off).toFixed(2)}x)`);
    for (const mode of ['off', 'everysec', 'always'] as const) log(`    ${mode.padEnd(8)} runs: ${runs[mode].map(rate).join(' ')}`);
    return [
      { scenario: 'journal everysec (webhook ingest)', metric: '202s/CPU-s', ours: everysec, baseline: off, baselineName: 'journal off', higherIsBetter: true, goal: '>= 0.8x' },
      { scenario: 'journal always, group commit (webhook ingest)', metric: '202s/CPU-s', ours: always, baseline: off, baselineName: 'journal off', higherIsBetter: true, goal: '>= 0.3x' },
    ];
  } finally {
    await worker.terminate();
  }
}

const rate = (n: number) => `${(n / 1e3).toFixed(0)}k`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Rows for `npm run bench -- journal`. */
export async function runJournalBench(log: (line: string) => void, options: { scale?: number; repeats?: number } = {}): Promise<GoalRow[]> {
  const scale = options.scale ?? 1;
  const total = Math.max(10_000, Math.round(200_000 * scale));
  const repeats = options.repeats ?? 5;
  const seq = channelSequence('zipf', CHANNELS, total);
  await runOnce('off', Math.min(total, 50_000), seq); // warm the JIT on both paths
  await runOnce('everysec', Math.min(total, 50_000), seq);
  const runs: Record<Mode, number[]> = { off: [], everysec: [], always: [] };
  for (let r = 0; r < repeats; r++) {
    for (const mode of ['off', 'everysec', 'always'] as const) runs[mode].push((await runOnce(mode, total, seq)).msgsPerCpuSec);
  }
  const off = median(runs.off);
  const everysec = median(runs.everysec);
  const always = median(runs.always);
  log(`  journal: ${total} msgs, zipf ${CHANNELS} ch, ${repeats} interleaved rounds; msgs per CPU-s (median): off ${rate(off)}, everysec ${rate(everysec)} (${(everysec / off).toFixed(2)}x), always ${rate(always)} (${(always / off).toFixed(2)}x)`);
  for (const mode of ['off', 'everysec', 'always'] as const) log(`    ${mode.padEnd(8)} runs: ${runs[mode].map(rate).join(' ')}`);

  const million = Math.max(10_000, Math.round(1_000_000 * scale));
  const size = await runOnce('everysec', million, channelSequence('zipf', CHANNELS, million), true);
  log(`  journal size while ${million} msgs went through it (compaction at 16 MiB of log): peak ${mib(size.peakBytes)}, after shutdown ${mib(size.finalBytes)}`);
  const http = await runWebhookJournal(log, Math.max(1, Math.min(repeats, 3)));
  return [
    ...http,
    { scenario: 'journal everysec (ingest, zipf 1k ch)', metric: 'msgs/CPU-s', ours: everysec, baseline: off, baselineName: 'journal off', higherIsBetter: true, goal: '>= 0.8x' },
    { scenario: 'journal always, group commit (ingest, zipf 1k ch)', metric: 'msgs/CPU-s', ours: always, baseline: off, baselineName: 'journal off', higherIsBetter: true, goal: '>= 0.3x' },
    { scenario: `journal size, peak over ${million} msgs`, metric: 'MiB', ours: size.peakBytes / 2 ** 20, baseline: 16, baselineName: 'compaction threshold', higherIsBetter: false },
  ];
}
