import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface StartRedisOptions {
  /** AOF on (`appendfsync everysec`), as production runs it. @defaultValue false */
  appendonly?: boolean;
  /** Data directory; a temp dir (removed by `stop()`) when absent. */
  dir?: string;
  /** How long to wait for PING to answer. @defaultValue 10000 */
  startTimeoutMs?: number;
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:<port>` */
  url: string;
  dir: string;
  /** A new ioredis client, disconnected by `stop()`. */
  client(options?: RedisOptions): Redis;
  /** Signals the server (SIGKILL unless told) and waits until it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and dir (killing it first if it still runs): a crash and recovery. */
  restart(): Promise<void>;
  /** Kills it, disconnects its clients and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Every server still running; killed when the test process exits, whatever the runner does. */
const live = new Set<ChildProcess>();
let exitHook = false;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on +PONG (a loading server answers -LOADING). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

async function launch(port: number, dir: string, appendonly: boolean, timeoutMs: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendonly ? 'yes' : 'no'];
  args.push('--appendfsync', 'everysec', '--dir', dir, '--maxmemory-policy', 'noeviction');
  const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 50) output.splice(0, output.length - 50);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited during start-up:\n${output.slice(-10).join('\n')}`);
    }
    if (await ping(port)) return proc;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms:\n${output.slice(-10).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A real redis-server on a free loopback port (AOF optional), for integration and crash tests. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'bg-redis-')));
  const appendonly = options.appendonly ?? false;
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let port = 0;
  let proc: ChildProcess | undefined;
  // Another process may take the free port before redis binds it: try a few.
  for (let attempt = 1; proc === undefined; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port, dir, appendonly, timeoutMs);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  const clients = new Set<Redis>();
  let stopped: Promise<void> | null = null;

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc!;
    p.kill(signal);
    await Promise.race([
      exited(p),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`redis-server did not exit on ${signal} within 10 s`)), 10_000).unref()),
    ]);
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client(clientOptions = {}) {
      const c = new Redis({ port, host: '127.0.0.1', ...clientOptions });
      // Tests kill the server on purpose; a client's reconnect errors are expected then.
      c.on('error', () => undefined);
      clients.add(c);
      return c;
    },
    kill,
    async restart() {
      if (proc!.exitCode === null && proc!.signalCode === null) await kill('SIGKILL');
      proc = await launch(port, dir, appendonly, timeoutMs);
    },
    stop() {
      stopped ??= (async () => {
        for (const c of clients) c.disconnect();
        await kill('SIGKILL').catch(() => undefined);
        if (ownDir) await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** One server for a test file: started in `beforeAll`, stopped in `afterAll`; call the getter inside tests. */
export function redisForSuite(options: StartRedisOptions = {}): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('redisForSuite: the server starts in beforeAll; use it inside tests');
    return server;
  };
}
