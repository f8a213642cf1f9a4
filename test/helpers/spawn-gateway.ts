import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { stringify } from 'yaml';

/** The repository root: the gateway runs from here, as `npm start` does. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SpawnGatewayOptions {
  /**
   * A config document (written as YAML to a temp file; `state.spoolPath` defaults into the temp dir so a
   * test never writes the repo's `data/`), or the path of an existing config file.
   */
  config: Record<string, unknown> | string;
  /**
   * `node`: `node bin/batchgate.js start --config FILE`. `npm`: `npm start` with `BATCHGATE_CONFIG=FILE`,
   * exactly what a user types. Both run the compiled dist/, which test/global-setup.ts rebuilds from the
   * sources before every test run. @defaultValue 'node'
   */
  via?: 'node' | 'npm';
  /** Extra environment; `PORT=0`, `HOST=127.0.0.1` and `BATCHGATE_DATA_DIR` (the temp dir) are set unless given here. */
  env?: Record<string, string>;
  /** @defaultValue the repository root */
  cwd?: string;
  /** `start` runs a gateway, `worker` a distributed-mode worker (`npm run worker`). @defaultValue 'start' */
  command?: 'start' | 'worker';
  /** How long to wait for the gateway to say where it listens. @defaultValue 30000 */
  startTimeoutMs?: number;
}

export interface SpawnedGateway {
  /** Base URL the gateway listens on, e.g. `http://127.0.0.1:41234`. */
  url: string;
  proc: ChildProcess;
  /** Every stdout and stderr line so far, in arrival order. */
  logs: string[];
  /** The JSON log lines parsed (pino), in order; other lines are skipped. */
  jsonLogs(): Array<Record<string, unknown>>;
  /** The config file the gateway was started with. */
  configPath: string;
  /** A temp dir owned by this gateway (config, spool); removed at test end. */
  dir: string;
  /** Resolves with the first line (already seen or still to come) matching `re`; rejects after `timeoutMs` or on exit. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code (null when a signal ended it). Past
   * `timeoutMs` the process group is killed and the promise rejects, so a hung shutdown fails the test.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` to the whole process group (npm and the node it runs): SIGKILL, SIGSTOP, SIGCONT for fault tests. */
  signalGroup(signal: NodeJS.Signals): void;
}

const LISTEN_BANNER = /^\s+health\s+(http:\/\/\S+)\/healthz\s*$/;

/** Every child still running; killed when the test process exits, whatever the test runner does. */
const live = new Set<ChildProcess>();
let exitHook = false;

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    // The child leads its own process group (detached), so this reaches npm's children and esbuild too.
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Runs the real gateway as a child process, the way an operator does, and waits until it listens. Inside a
 * test it is stopped (SIGTERM, then SIGKILL after 5 s) and its temp dir removed when the test finishes;
 * outside one (e.g. `beforeAll`) the caller must `stop()` it, and a process exit hook kills it as a last resort.
 */
export async function spawnGateway(options: SpawnGatewayOptions): Promise<SpawnedGateway> {
  const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-e2e-'));
  let configPath: string;
  if (typeof options.config === 'string') {
    configPath = path.resolve(options.config);
  } else {
    const doc = structuredClone(options.config);
    const state = (doc['state'] ?? {}) as Record<string, unknown>;
    doc['state'] = { spoolPath: path.join(dir, 'spool.jsonl'), ...state };
    configPath = path.join(dir, 'batchgate.yaml');
    await writeFile(configPath, stringify(doc));
  }

  const via = options.via ?? 'node';
  // A config file such as config/default.yaml keeps its state under $BATCHGATE_DATA_DIR: this gateway's temp dir,
  // so test files running at once never share a journal.
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', HOST: '127.0.0.1', BATCHGATE_DATA_DIR: dir, ...options.env };
  let command: string;
  let args: string[];
  if (via === 'npm') {
    command = 'npm';
    args = options.command === 'worker' ? ['run', 'worker', '--silent'] : ['start', '--silent'];
    env['BATCHGATE_CONFIG'] = configPath;
    // npm runs scripts through `sh -c`; dash forks instead of exec'ing, so the SIGTERM npm forwards kills
    // the shell and orphans the gateway. bash execs a lone command, so the gateway itself gets the signal and
    // npm exits with the gateway's code, as a user expects from `npm start`.
    env['npm_config_script_shell'] ??= '/bin/bash';
    env['npm_config_update_notifier'] = 'false';
  } else {
    command = process.execPath;
    args = [path.join(REPO_ROOT, 'bin/batchgate.js'), options.command ?? 'start', '--config', configPath];
  }

  const proc = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(proc);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) killGroup(p, 'SIGKILL');
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });

  const logs: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      logs.push(line);
      for (const l of listeners) l(line);
    });
  }

  const waitForLog = (re: RegExp, timeoutMs = 15_000): Promise<string> => {
    const seen = logs.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(onLine);
      };
      const onLine = (line: string): void => {
        if (!re.test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`gateway log: no line matching ${re} after ${timeoutMs} ms; last lines:\n${logs.slice(-20).join('\n')}`));
      }, timeoutMs);
      listeners.add(onLine);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(onLine)) return;
        // Lines still buffered in the pipes arrive before 'close'; give them a turn before giving up.
        setTimeout(() => {
          if (!listeners.has(onLine)) return;
          done();
          reject(new Error(`gateway exited (code ${code}, signal ${signal}) before logging ${re}; last lines:\n${logs.slice(-20).join('\n')}`));
        }, 100);
      });
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // npm forwards the signal to the gateway itself; a signal to the whole group would also hit npm.
      proc.kill(signal);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        killGroup(proc, 'SIGKILL');
        reject(new Error(`gateway did not exit within ${timeoutMs} ms of ${signal}; last lines:\n${logs.slice(-20).join('\n')}`));
      }, timeoutMs);
    });
    try {
      return (await Promise.race([exited, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  };

  const cleanup = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      killGroup(proc, 'SIGTERM');
      const t = setTimeout(() => killGroup(proc, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    onTestFinished(cleanup);
  } catch {
    // Not inside a test: the caller stops it; the exit hook is the backstop.
  }

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(-proc.pid, signal);
  };

  const jsonLogs = (): Array<Record<string, unknown>> =>
    logs.flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  let url: string;
  try {
    const line = await waitForLog(/"msg":"gateway started"|^\s+health\s+http:\/\//, options.startTimeoutMs ?? 30_000);
    const banner = LISTEN_BANNER.exec(line);
    url = banner?.[1] ?? String((JSON.parse(line) as { url: string }).url);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { url, proc, logs, jsonLogs, configPath, dir, waitForLog, exited, stop, signalGroup };
}
