import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GoalRow } from './goals.js';
import { interleave } from './lib.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const HEALTH_BANNER = /^\s+health\s+(http:\/\/\S+\/healthz)\s*$/;

/**
 * Milliseconds from spawning `node <entry> start` to `/healthz` answering 200: the process prints its
 * health URL once it listens, and one GET follows. The gateway is then stopped (SIGTERM) and awaited.
 */
async function startToHealthy(entry: string, configPath: string): Promise<number> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [entry, 'start', '--config', configPath], { cwd: ROOT, env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const m = HEALTH_BANNER.exec(line);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`${entry} exited before listening`)));
    });
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    return performance.now() - t0;
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

/**
 * Start-up: `batchgate start` until `/healthz` answers, the compiled package (bin/batchgate.js → dist/)
 * against the sources through tsx (the entry point before the build, bench/startup/tsx-entry.mjs),
 * interleaved A/B. The embedded default config (web chat, webhook, echo).
 */
export async function runStartupBench(log: (line: string) => void, options: { repeats?: number } = {}): Promise<GoalRow[]> {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-startup-'));
  try {
    const configPath = path.join(dir, 'batchgate.yaml');
    await writeFile(configPath, `processor: { type: echo }\nstate: { spoolPath: ${JSON.stringify(path.join(dir, 'spool.jsonl'))} }\nlog: { level: warn }\n`);
    const compiled = path.join(ROOT, 'bin/batchgate.js');
    const sources = path.join(ROOT, 'bench/startup/tsx-entry.mjs');
    // One untimed start of each first: the OS file cache and tsx's transform cache then hold for both.
    await startToHealthy(compiled, configPath);
    await startToHealthy(sources, configPath);
    const repeats = options.repeats ?? 7;
    const r = await interleave(repeats, () => startToHealthy(compiled, configPath), () => startToHealthy(sources, configPath));
    const runs = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    log(`  compiled (node bin/batchgate.js start): median ${r.ours.toFixed(0)} ms; runs ${runs(r.oursRuns)}`);
    log(`  sources through tsx (before the build):  median ${r.baseline.toFixed(0)} ms; runs ${runs(r.baselineRuns)}`);
    return [{ scenario: 'startup: batchgate start → /healthz 200', metric: 'ms (median)', ours: r.ours, baseline: r.baseline, baselineName: 'tsx + sources', higherIsBetter: false }];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
