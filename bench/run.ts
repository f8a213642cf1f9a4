/**
 * `npm run bench [-- core lateness memory bus peer] [--scale=0.2] [--repeats=N]`: runs the chosen scenarios
 * (default all), each against its plain baseline in this same process, and prints one table with the
 * ratio, the goal and PASS/MISS per row, plus the machine it ran on.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { runCancelLatency } from './cancel-latency.js';
import { runCoreThroughput } from './core-throughput.js';
import { runFlushLateness } from './flush-lateness.js';
import { printJudged, judge, type GoalRow } from './goals.js';
import { runIdleMemory } from './idle-memory.js';
import { runStartupBench } from './startup.js';
import { runJournalBench } from './journal.js';
import type { BenchRow } from './lib.js';
import { runWebhookBench } from './webhook-e2e.js';

type Log = (line: string) => void;
type Scenario = (log: Log, opts: { scale: number; repeats?: number }) => Promise<GoalRow[]>;

const SCENARIOS: Record<string, Scenario> = {
  core: (log, o) => runCoreThroughput(log, { scale: o.scale, ...(o.repeats ? { repeats: o.repeats } : {}) }),
  lateness: (log, o) => runFlushLateness(log, o.repeats ? { repeats: o.repeats } : {}),
  memory: (log) => runIdleMemory(log),
  webhook: (log) => runWebhookBench(log),
  startup: (log, o) => runStartupBench(log, o.repeats ? { repeats: o.repeats } : {}),
  journal: (log, o) => runJournalBench(log, o),
  cancel: (log) => runCancelLatency(log),
  distributed: async (log, o) => (await import('./distributed.js')).runDistributedBench(log, o),
  peer: async (log, o) => (await import('./peer.js')).runPeerBench(log, o),
  'peer-steps': async (log, o) => (await import('./peer-steps.js')).runPeerSteps(log, o),
  bus: async (log) => {
    // bench/bus.ts lands separately; the runner works with or without it.
    const file = new URL('./bus.ts', import.meta.url);
    if (!existsSync(file)) {
      log('  bus: bench/bus.ts not present, skipped');
      return [];
    }
    const mod = (await import(file.href)) as { runBusBench: (log: Log) => Promise<BenchRow[]> };
    return mod.runBusBench(log);
  },
};

function machine(log: Log): void {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  log(`node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.release()} ${os.arch()}`);
  log(`cpu ${cpus[0]?.model ?? 'unknown'} x${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, loadavg ${load}`);
  if (os.loadavg()[0]! >= 1) log(`WARNING: 1-min load ${os.loadavg()[0]!.toFixed(2)} >= 1: other work shares these cores; wall-clock figures are noisy, msgs/CPU-s is steadier`);
  if ((globalThis as { gc?: unknown }).gc === undefined) log('WARNING: run with --expose-gc (npm run bench does) or the memory figures are meaningless');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; choose from ${Object.keys(SCENARIOS).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const chosen = names.length > 0 ? names : Object.keys(SCENARIOS);
  const scale = Number(flag('scale') ?? 1);
  const repeats = flag('repeats') !== undefined ? Number(flag('repeats')) : undefined;
  const log: Log = (line) => console.log(line);
  const started = performance.now();
  log(`batchgate bench ${new Date().toISOString()}: ${chosen.join(', ')}${scale !== 1 ? ` (scale ${scale})` : ''}`);
  machine(log);
  const rows: GoalRow[] = [];
  for (const name of chosen) {
    const t0 = performance.now();
    log(`\n[${name}]`);
    rows.push(...(await SCENARIOS[name]!(log, { scale, ...(repeats ? { repeats } : {}) })));
    log(`  (${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  log('\nresults (ratio = ours / baseline):');
  printJudged(rows, log);
  const judged = rows.map(judge).filter((v) => v !== undefined);
  log(`\n${judged.filter(Boolean).length}/${judged.length} goals met; loadavg now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await main();
