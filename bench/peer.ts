/**
 * `npm run bench -- peer`: batchgate against a real peer, the Vercel Chat SDK (`chat` with its `debounce`
 * concurrency strategy), on the same workload in this one process, rounds alternating sides:
 *
 * - in-process: the SDK on `@chat-adapter/state-memory` vs batchgate embedded (`MessageQueue`);
 * - on Redis: the SDK on `@chat-adapter/state-ioredis` vs batchgate distributed (gateway + worker), both
 *   on one redis-server this bench starts (AOF off), emptied before every run.
 *
 * Workload: Zipf(1.1) over 1,000 channels, 200-byte texts, a 200 ms window on both sides, messages
 * arriving at a fixed pace (the same schedule for both sides, so batch shapes come from the traffic, not
 * from how fast a side is), one echo reply per batch. A run ends when every message is accounted for.
 * Printed per side: msgs per CPU-second (this process, plus redis-server's own CPU from `INFO cpu` for the
 * Redis rows), Redis CPU per 1k messages, Redis commands per message from `INFO commandstats` (scripts'
 * inner calls counted: see `RedisProbe.commandCalls`), and what became of every message.
 */
import type { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis-server.js';
import { channelSequence } from './core-throughput.js';
import { fullGc, type GoalRow } from './goals.js';
import { fmt, median, now } from './lib.js';
import type { PeerInbound } from './peer-adapter.js';
import { distributedSide, embeddedSide, peerMemorySide, peerRedisSide, WINDOW_MS, type Accounting, type SideFactory } from './peer-sides.js';
import { RedisProbe } from './redis-probe.js';

type Log = (line: string) => void;

const CHANNELS = 1_000;
const TEXT = 'x'.repeat(200);
/** How often the feeder wakes to hand over the messages that are due. */
const TICK_MS = 5;
/** In-process: 30k messages at 10k msgs/s (3 s of traffic per run). */
const IN_PROCESS = { msgs: 30_000, ratePerSec: 10_000 };
/** On Redis: 8k messages at 2k msgs/s (4 s per run), a pace both sides keep up with on this host. */
const ON_REDIS = { msgs: 8_000, ratePerSec: 2_000 };

/** One timed run of one side. */
export interface PeerSample {
  msgs: number;
  wallMs: number;
  /** This process's CPU (user + system) over the run, ms. */
  processCpuMs: number;
  /** redis-server's `used_cpu_user + used_cpu_sys` over the run, ms (0 in-process). */
  redisCpuMs: number;
  /** Commands Redis executed over the run, by name (scripts' inner calls included). */
  commands: Map<string, number>;
  accounting: Accounting;
}

function workload(tag: string, count: number): PeerInbound[] {
  const channels = channelSequence('zipf', CHANNELS, count);
  const at = Date.now();
  return Array.from(channels, (c, i) => ({ id: `${tag}-${i}`, channelId: `c${c}`, userId: `u${i % 97}`, userName: `user ${i % 97}`, text: TEXT, sentAt: at }));
}

/**
 * Hands message i over once its time (i / rate) has come, never awaiting one before the next is due:
 * platform events arrive whether or not the bot is busy. A push that fails fails the run.
 */
async function paced(count: number, ratePerSec: number, push: (i: number) => Promise<unknown>): Promise<void> {
  let failure: unknown;
  const pending: Promise<unknown>[] = [];
  const t0 = now();
  for (let i = 0; i < count; ) {
    const due = Math.min(count, Math.floor(((now() - t0) * ratePerSec) / 1_000) + 1);
    for (; i < due; i++) pending.push(push(i).catch((err: unknown) => void (failure ??= err)));
    if (i < count) await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
}

/** Sets a side up, feeds it, waits until it accounted for every message, tears it down; Redis and process CPU measured over feed + settle. */
export async function timeSide(side: SideFactory, tag: string, count: number, ratePerSec: number, probe?: RedisProbe, watch?: { start(): Promise<void>; stop(): Promise<void> }): Promise<PeerSample> {
  const msgs = workload(tag, count);
  await probe?.flushAll();
  const prepared = await side(tag, msgs);
  try {
    fullGc();
    await probe?.resetStats();
    const redis0 = probe ? await probe.cpuSeconds() : 0;
    // Whatever watches Redis (peer-steps' MONITOR) sees the run only: not the set-up, not the teardown.
    await watch?.start();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await paced(count, ratePerSec, prepared.push);
    const accounting = await prepared.settle();
    const wallMs = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await watch?.stop();
    const redisCpuMs = probe ? ((await probe.cpuSeconds()) - redis0) * 1_000 : 0;
    const commands = probe ? await probe.commandCalls() : new Map<string, number>();
    return { msgs: count, wallMs, processCpuMs: (cpu.user + cpu.system) / 1_000, redisCpuMs, commands, accounting };
  } finally {
    await prepared.close();
  }
}

const perCpuSecond = (s: PeerSample) => (s.msgs / (s.processCpuMs + s.redisCpuMs)) * 1_000;
const redisPer1k = (s: PeerSample) => (s.redisCpuMs / s.msgs) * 1_000;
const sum = (m: Map<string, number>, pick: (name: string) => boolean = () => true) => [...m].reduce((acc, [name, n]) => acc + (pick(name) ? n : 0), 0);
export const commandsPerMsg = (s: PeerSample) => sum(s.commands) / s.msgs;
const scriptsPerMsg = (s: PeerSample) => sum(s.commands, (n) => n === 'eval' || n === 'evalsha' || n.startsWith('fcall')) / s.msgs;
/** Messages not delivered exactly once: never delivered (stranded, refused, missing) plus repeats. */
const notOnce = (s: PeerSample) => s.msgs - s.accounting.delivered + s.accounting.duplicates;

/** The commands a side sent most, per message, e.g. `evalsha 3.10, rpush 1.00`. */
export function topCommands(commands: Map<string, number>, msgs: number, most = 8): string {
  return [...commands]
    .sort((a, b) => b[1] - a[1])
    .slice(0, most)
    .map(([name, n]) => `${name} ${(n / msgs).toFixed(2)}`)
    .join(', ');
}

interface Contender {
  name: string;
  side: SideFactory;
}

/**
 * Runs both contenders `repeats` times, order alternating each round (A B, B A, …), after a full-size
 * warm-up run each (a quarter-size one left batchgate embedded 30–40 % below its warm figure: the JIT).
 */
async function contest(pair: [Contender, Contender], size: { msgs: number; ratePerSec: number }, repeats: number, log: Log, probe?: RedisProbe): Promise<[PeerSample[], PeerSample[]]> {
  let runs = 0;
  const tag = () => `peer${++runs}`;
  for (const c of pair) await timeSide(c.side, tag(), size.msgs, size.ratePerSec, probe);
  const samples: [PeerSample[], PeerSample[]] = [[], []];
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) samples[i]!.push(await timeSide(pair[i]!.side, tag(), size.msgs, size.ratePerSec, probe));
  }
  pair.forEach((c, i) => {
    const s = samples[i]!;
    const mid = (f: (x: PeerSample) => number) => median(s.map(f));
    const last = s.at(-1)!;
    const a = last.accounting;
    log(`  ${c.name}: ${s.map((x) => fmt(perCpuSecond(x))).join(' ')} msgs/CPU-s${probe ? ' (process + redis)' : ''}; wall ${fmt(mid((x) => (x.msgs / x.wallMs) * 1_000))} msgs/s`);
    log(`    process CPU ${mid((x) => (x.processCpuMs / x.msgs) * 1_000).toFixed(1)} ms/1k msgs${probe ? `, Redis CPU ${mid(redisPer1k).toFixed(1)} ms/1k msgs, ${mid(commandsPerMsg).toFixed(2)} Redis commands/msg (${mid(scriptsPerMsg).toFixed(2)} of them script calls)` : ''}`);
    log(`    last run: ${a.batches} batches (${(a.delivered / Math.max(1, a.batches)).toFixed(2)} msgs/batch), ${a.replies} replies; of ${last.msgs} msgs ${a.delivered} delivered, ${a.duplicates} repeated, ${a.stranded} stranded, ${a.refused} refused/dropped`);
    if (probe) log(`    last run's commands per msg: ${topCommands(last.commands, last.msgs)}`);
  });
  return samples;
}

/** `npm run bench -- peer [--scale=N] [--repeats=N]`: the peer rows and their goals. */
export async function runPeerBench(log: Log, opts: { scale?: number; repeats?: number } = {}): Promise<GoalRow[]> {
  const scale = opts.scale ?? 1;
  const repeats = Math.max(2, opts.repeats ?? 3);
  const sized = (s: { msgs: number; ratePerSec: number }) => ({ ...s, msgs: Math.max(1_000, Math.round(s.msgs * scale)) });
  const inProcess = sized(IN_PROCESS);
  const onRedis = sized(ON_REDIS);
  const peer = 'Chat SDK 4.41.1 debounce';
  const rows: GoalRow[] = [];
  const cpuRow = { metric: 'msgs/CPU-s', higherIsBetter: true, baselineName: peer } as const;

  log(`  ${CHANNELS} channels Zipf(1.1), 200 B texts, window ${WINDOW_MS} ms, one echo reply per batch, ${repeats} rounds per pair (order alternating)`);
  log(`  in-process: ${inProcess.msgs} msgs per run at ${inProcess.ratePerSec} msgs/s:`);
  const [embedded, peerMemory] = await contest(
    [
      { name: 'batchgate embedded (MessageQueue)', side: embeddedSide },
      { name: `${peer}, state-memory`, side: peerMemorySide },
    ],
    inProcess,
    repeats,
    log,
  );
  const inName = 'peer in-process (1k ch zipf)';
  rows.push({ ...cpuRow, scenario: inName, ours: median(embedded.map(perCpuSecond)), baseline: median(peerMemory.map(perCpuSecond)), goal: '>= 10x' });
  rows.push({ scenario: inName, metric: 'msgs not once', ours: median(embedded.map(notOnce)), baseline: median(peerMemory.map(notOnce)), baselineName: peer, higherIsBetter: false, goal: 'none', pass: embedded.every((s) => notOnce(s) === 0) });

  const server = await startRedis({ appendonly: false });
  const clients: Redis[] = [];
  try {
    const probe = new RedisProbe(server.client());
    log(`  on Redis (redis-server ${await probe.version()}, port ${server.port}, AOF off): ${onRedis.msgs} msgs per run at ${onRedis.ratePerSec} msgs/s:`);
    const client = () => {
      const c = server.client();
      clients.push(c);
      return c;
    };
    const [distributed, peerRedis] = await contest(
      [
        { name: 'batchgate distributed (gateway + worker)', side: distributedSide(server.url) },
        { name: `${peer}, state-ioredis`, side: peerRedisSide(client) },
      ],
      onRedis,
      repeats,
      log,
      probe,
    );
    const redisName = 'peer distributed (1k ch zipf)';
    const ours = (f: (s: PeerSample) => number) => median(distributed.map(f));
    const theirs = (f: (s: PeerSample) => number) => median(peerRedis.map(f));
    rows.push({ ...cpuRow, scenario: `${redisName}, process+redis`, ours: ours(perCpuSecond), baseline: theirs(perCpuSecond), goal: '>= 2x' });
    rows.push({ scenario: redisName, metric: 'Redis CPU ms/1k', ours: ours(redisPer1k), baseline: theirs(redisPer1k), baselineName: peer, higherIsBetter: false, goal: '<= 0.5x' });
    rows.push({ scenario: redisName, metric: 'Redis cmds/msg', ours: ours(commandsPerMsg), baseline: theirs(commandsPerMsg), baselineName: peer, higherIsBetter: false, goal: '<= 10 per msg', pass: ours(commandsPerMsg) <= 10 });
    rows.push({ scenario: redisName, metric: 'msgs not once', ours: ours(notOnce), baseline: theirs(notOnce), baselineName: peer, higherIsBetter: false, goal: 'none', pass: distributed.every((s) => notOnce(s) === 0) });
  } finally {
    for (const c of clients) c.disconnect();
    await server.stop();
  }
  return rows;
}
