import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { freePort } from './redis-server.js';

const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const HOST = '127.0.0.1';
const PRIMARIES = 3;

export interface StartRedisClusterOptions {
  /** How long start-up may take: every node answering, `--cluster create`, `cluster_state:ok` everywhere. @defaultValue 60000 */
  startTimeoutMs?: number;
  /**
   * `cluster-node-timeout`: how long a primary may be unreachable before the others mark it failed and its
   * replica is elected. Short, so a failover test waits seconds, not the 15 s production default.
   * @defaultValue 1000
   */
  nodeTimeoutMs?: number;
}

/** One node as `CLUSTER NODES` describes it now. */
export interface ClusterNodeInfo {
  /** The node's 40-character cluster id. */
  id: string;
  port: number;
  role: 'primary' | 'replica';
  /** For a replica, the id of the primary it replicates. */
  primaryId?: string;
  /** `fail` / `fail?` in its flags: the cluster considers it down. */
  failed: boolean;
  /** Slot ranges it serves, e.g. `["0-5460"]` (primaries only). */
  slots: string[];
}

/** What `killPrimary` did: the primary killed and the replica that took its slots. */
export interface Failover {
  killed: ClusterNodeInfo;
  promoted: ClusterNodeInfo;
}

export interface RedisCluster {
  /** Every node's port, in start order (the first three were created as primaries). */
  ports: readonly number[];
  /** `redis://127.0.0.1:<port>` for each node: what `redis.cluster.nodes` takes. */
  urls: readonly string[];
  /** A new ioredis `Cluster` client seeded with every node, disconnected by `stop()`. */
  client(options?: ClusterOptions): Cluster;
  /** The cluster as a live node sees it (`CLUSTER NODES`), killed nodes included with `failed`. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /**
   * kill -9 of a primary (the first live one unless `port` is given), then waits until one of its
   * replicas is a primary with its slots and every surviving node reports `cluster_state:ok`.
   */
  killPrimary(port?: number): Promise<Failover>;
  /** pids of the redis-server processes still running (none after `stop()`). */
  livePids(): number[];
  /** Kills every node, disconnects the clients, removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
}

interface Node {
  port: number;
  busPort: number;
  dir: string;
  proc: ChildProcess;
  admin: Redis;
}

/** Every node still running in this process; killed at exit, whatever the test runner does. */
const live = new Set<ChildProcess>();
let exitHook = false;

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/** Polls `check` every 100 ms until it answers something other than undefined; throws `what` at the deadline. */
async function until<T>(what: () => string, deadline: number, check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
}

/** Parses `CLUSTER NODES` (one line per node: id addr flags primary ping pong epoch link slots…). */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, addr, flags, primary, , , , , ...slots] = line.trim().split(' ');
      const flagList = flags!.split(',');
      const port = Number(/:(\d+)@/.exec(addr!)?.[1]);
      const replica = flagList.includes('slave');
      return {
        id: id!,
        port,
        role: replica ? 'replica' : 'primary',
        ...(replica && primary !== '-' ? { primaryId: primary! } : {}),
        failed: flagList.includes('fail') || flagList.includes('fail?'),
        slots: slots.filter((s) => !s.startsWith('[')),
      };
    });
}

function launch(port: number, busPort: number, dir: string, nodeTimeoutMs: number): ChildProcess {
  const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', HOST, '--dir', dir];
  args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs));
  // A replica may be promoted however long its link was down: a loaded machine must not veto the failover.
  args.push('--cluster-replica-validity-factor', '0', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction');
  const proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

/** Starts one node on fresh free ports (client and bus), retrying when another process took a port first. */
async function startNode(nodeTimeoutMs: number, deadline: number): Promise<Node> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const busPort = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'bg-redis-cluster-'));
    const proc = launch(port, busPort, dir, nodeTimeoutMs);
    const admin = new Redis({ port, host: HOST, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
    const up = await until(
      () => `node on port ${port} did not answer PING`,
      deadline,
      async () => (proc.exitCode !== null || proc.signalCode !== null ? false : (await admin.ping()) === 'PONG' || undefined),
    ).catch(() => false);
    if (up === true) return { port, busPort, dir, proc, admin };
    admin.disconnect();
    proc.kill('SIGKILL');
    await exited(proc);
    await rm(dir, { recursive: true, force: true });
    if (attempt >= 3 || Date.now() > deadline) throw new Error(`redis cluster: a node could not start (port ${port}, bus ${busPort})`);
  }
}

function clusterCreate(ports: number[], timeoutMs: number): Promise<void> {
  const args = ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes'];
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli --cluster create failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/**
 * A real local Redis Cluster: 3 primaries and 3 replicas, each a `redis-server --cluster-enabled yes` on
 * free loopback ports in its own temp dir, joined by `redis-cli --cluster create --cluster-replicas 1`.
 * Resolves once every node reports `cluster_state:ok` with all 16384 slots and every replica's link to
 * its primary is up (so a failover can happen at once).
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000;
  const deadline = Date.now() + startTimeoutMs;
  const nodes: Node[] = [];
  const clients = new Set<Cluster>();
  let stopped: Promise<void> | null = null;

  const stop = () => {
    stopped ??= (async () => {
      for (const c of clients) c.disconnect();
      for (const n of nodes) {
        n.admin.disconnect();
        n.proc.kill('SIGKILL');
      }
      await Promise.all(nodes.map((n) => exited(n.proc)));
      await Promise.all(nodes.map((n) => rm(n.dir, { recursive: true, force: true })));
    })();
    return stopped;
  };
  const running = () => nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  const nodesSeenBy = async (node: Node) => parseClusterNodes(String(await node.admin.call('CLUSTER', 'NODES')));
  /** Undefined unless every running node says `cluster_state:ok` with every slot served. */
  const allOk = async () => {
    for (const n of running()) {
      const info = String(await n.admin.call('CLUSTER', 'INFO'));
      if (field(info, 'cluster_state') !== 'ok' || field(info, 'cluster_slots_ok') !== '16384') return undefined;
    }
    return true;
  };

  try {
    for (let i = 0; i < PRIMARIES * 2; i++) nodes.push(await startNode(nodeTimeoutMs, deadline));
    await clusterCreate(
      nodes.map((n) => n.port),
      Math.max(1_000, deadline - Date.now()),
    );
    await until(() => 'cluster_state did not reach ok on every node', deadline, allOk);
    await until(
      () => 'every replica did not finish its first sync with its primary',
      deadline,
      async () => {
        const view = await nodesSeenBy(nodes[0]!);
        if (view.length !== nodes.length || view.filter((v) => v.role === 'replica').length !== PRIMARIES) return undefined;
        for (const n of nodes) {
          const info = await n.admin.info('replication');
          if (field(info, 'role') === 'slave' && field(info, 'master_link_status') !== 'up') return undefined;
        }
        return true;
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    ports: nodes.map((n) => n.port),
    urls: nodes.map((n) => `redis://${HOST}:${n.port}`),
    client(clientOptions = {}) {
      const c = new Cluster(
        nodes.map((n) => ({ host: HOST, port: n.port })),
        clientOptions,
      );
      // Tests kill nodes on purpose; the client's reconnect errors are expected then.
      c.on('error', () => undefined);
      clients.add(c);
      return c;
    },
    nodes() {
      return nodesSeenBy(running()[0]!);
    },
    async killPrimary(port) {
      const view = await nodesSeenBy(running()[0]!);
      const killed = view.find((v) => v.role === 'primary' && !v.failed && (port === undefined || v.port === port));
      if (killed === undefined) throw new Error(`redis cluster: no live primary${port === undefined ? '' : ` on port ${port}`}`);
      const replicas = view.filter((v) => v.primaryId === killed.id && !v.failed);
      if (replicas.length === 0) throw new Error(`redis cluster: primary on port ${killed.port} has no live replica to promote`);
      const node = nodes.find((n) => n.port === killed.port)!;
      node.admin.disconnect();
      node.proc.kill('SIGKILL');
      await exited(node.proc);
      const failoverDeadline = Date.now() + Math.max(30_000, nodeTimeoutMs * 20);
      const promoted = await until(
        () => `no replica of the primary on port ${killed.port} was promoted`,
        failoverDeadline,
        async () => {
          const now = await nodesSeenBy(running()[0]!);
          const heir = now.find((v) => replicas.some((r) => r.id === v.id) && v.role === 'primary' && v.slots.length > 0);
          return heir !== undefined && now.find((v) => v.id === killed.id)?.failed === true ? heir : undefined;
        },
      );
      await until(() => 'cluster_state did not return to ok after the failover', failoverDeadline, allOk);
      return { killed, promoted };
    },
    livePids() {
      return running().map((n) => n.proc.pid!);
    },
    stop,
  };
}
