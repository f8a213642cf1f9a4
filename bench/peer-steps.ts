/**
 * `npm run bench -- peer-steps [--scale=N]`: where batchgate distributed's Redis commands per message go.
 * One small run of the peer bench's distributed side (1,000 messages at its pace, after a warm-up run)
 * with `MONITOR` attached to the bench's own redis-server for the run only. Each EVALSHA is named after
 * the script it runs (the bench records every `defineCommand` of ioredis — ours and BullMQ's — by the
 * SHA1 of its Lua, as ioredis computes it), and the commands the script ran (MONITOR's `[lua]` lines,
 * printed right after their EVALSHA) are counted to it. Plain commands are named by command and key
 * shape. Steps are then summed into the stages a batch goes through.
 */
import { createHash } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis-server.js';
import type { GoalRow } from './goals.js';
import { commandsPerMsg, timeSide } from './peer.js';
import { distributedSide } from './peer-sides.js';
import { RedisProbe } from './redis-probe.js';

type Log = (line: string) => void;

const MSGS = 1_000;
const RATE_PER_SEC = 2_000;

/** sha1(lua) → the command name it was defined under, for every client of this process. */
const scriptNames = new Map<string, string>();
let recording = false;

/** Wraps ioredis's `defineCommand` once so every script defined from now on is known by its SHA1. */
function recordScriptNames(): void {
  if (recording) return;
  recording = true;
  const proto = Redis.prototype as unknown as { defineCommand: (name: string, definition: { lua: string }) => void };
  const original = proto.defineCommand;
  proto.defineCommand = function (this: unknown, name: string, definition: { lua: string }) {
    scriptNames.set(createHash('sha1').update(definition.lua).digest('hex'), name);
    return original.call(this, name, definition);
  };
}

/** The stage a step belongs to, in the order a message meets them. */
const STAGES: Array<[stage: string, test: RegExp]> = [
  ['append (gateway)', /^bg_append\b/],
  ['seal and deadline reads (flusher)', /^bg_seal|^zrange\S* \S*:due$/],
  ['take + mark enqueued (dispatcher)', /^bg_(take|mark_enqueued)\b/],
  ['BullMQ add', /^add[A-Za-z]*Job:/],
  ['BullMQ move to active, blocking wait for jobs', /^moveToActive:|^(bzpopmin|bzpopmax|brpoplpush|blmove) /],
  ['claim (worker)', /^bg_claim\b/],
  ['reply publish (worker)', /^bg_publish_reply\b/],
  ['ack / finish (worker)', /^bg_(ack|finish|fail_finally)\b/],
  ['BullMQ move to completed (+ fetch the next job)', /^moveToFinished:/],
  ['BullMQ lock renewal, stalled checks', /^(extendLocks?|moveStalledJobsToWait):/],
  ['reply relay (gateway)', /^xread|^(hset|hmget|set|eval) \S*:replies:/],
  ['events / control pub/sub', /^publish\b/],
  ['reconcile poll (gateway)', /^bg_in_flight_before\b/],
];

function stageOf(step: string): string {
  for (const [stage, test] of STAGES) if (test.test(step)) return stage;
  return /:\d+\.\d+\.\d+$/.test(step.split(' ')[0]!) ? 'BullMQ other scripts' : 'other';
}

/** A key with the run's ids taken out: `{s0}:ch:bench:c17` → `{s#}:ch:bench:c#`. */
function shape(key: string, prefix: string): string {
  return key
    .replace(prefix, '<prefix>')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>')
    .replace(/[0-9a-f]{16,}/g, '<hex>')
    .replace(/\d+/g, '#');
}

/** MONITOR's quoted arguments, unescaped enough to name a command and its first key. */
function monitorArgs(rest: string): string[] {
  return [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
}

interface StepCount {
  calls: number;
  inner: number;
  /** The commands run inside the script, by name (scripts only). */
  innerByName?: Map<string, number>;
}

/** Counts MONITOR lines into steps as they stream in (nothing is kept but the counters). */
class MonitorTally {
  readonly steps = new Map<string, StepCount>();
  lines = 0;
  private current: StepCount | undefined;
  private socket: Socket | undefined;
  private buffered = '';

  constructor(
    private readonly port: number,
    private readonly prefix: string,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ port: this.port, host: '127.0.0.1' });
      this.socket = socket;
      socket.once('error', reject);
      socket.once('connect', () => socket.write('MONITOR\r\n'));
      socket.on('data', (chunk) => {
        this.buffered += chunk.toString('latin1');
        const lines = this.buffered.split('\r\n');
        this.buffered = lines.pop()!;
        for (const line of lines) {
          if (line === '+OK') resolve();
          else this.count(line);
        }
      });
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
    });
  }

  private count(line: string): void {
    const m = /^\+?\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!m) return;
    this.lines++;
    const [client, rest] = [m[1]!, m[2]!];
    if (client === 'lua') {
      if (this.current) {
        this.current.inner++;
        const name = (/^"([^"]*)"/.exec(rest)?.[1] ?? '?').toLowerCase();
        this.current.innerByName ??= new Map();
        this.current.innerByName.set(name, (this.current.innerByName.get(name) ?? 0) + 1);
      }
      return;
    }
    const args = monitorArgs(rest);
    const command = (args[0] ?? '?').toLowerCase();
    let step: string;
    if (command === 'evalsha' || command === 'eval') {
      const name = command === 'evalsha' ? (scriptNames.get(args[1] ?? '') ?? `evalsha ${args[1]?.slice(0, 8)}`) : 'eval';
      step = `${name} ${Number(args[2]) > 0 ? shape(args[3] ?? '', this.prefix) : ''}`.trim();
    } else if (command === 'fcall' || command === 'fcall_ro') {
      step = `fcall ${args[1]} ${Number(args[2]) > 0 ? shape(args[3] ?? '', this.prefix) : ''}`.trim();
    } else {
      step = `${command} ${args[1] !== undefined ? shape(args[1], this.prefix) : ''}`.trim();
    }
    const counter = this.steps.get(step) ?? { calls: 0, inner: 0 };
    counter.calls++;
    this.steps.set(step, counter);
    this.current = counter;
  }
}

const perMsg = (n: number, msgs: number) => (n / msgs).toFixed(2);

/** Prints the per-stage table (markdown, for BENCHMARKS.md) and the top steps behind it. */
function report(tally: MonitorTally, msgs: number, log: Log): number {
  const stages = new Map<string, StepCount>();
  let total = 0;
  for (const [step, c] of tally.steps) {
    const s = stages.get(stageOf(step)) ?? { calls: 0, inner: 0 };
    s.calls += c.calls;
    s.inner += c.inner;
    stages.set(stageOf(step), s);
    total += c.calls + c.inner;
  }
  const order = [...STAGES.map(([stage]) => stage), 'BullMQ other scripts', 'other'];
  log('  | stage | commands sent / msg | run inside scripts / msg | total / msg | share |');
  log('  |---|---:|---:|---:|---:|');
  for (const stage of order) {
    const s = stages.get(stage);
    if (!s) continue;
    log(`  | ${stage} | ${perMsg(s.calls, msgs)} | ${perMsg(s.inner, msgs)} | ${perMsg(s.calls + s.inner, msgs)} | ${(((s.calls + s.inner) / total) * 100).toFixed(0)} % |`);
  }
  const sent = [...stages.values()].reduce((a, s) => a + s.calls, 0);
  log(`  | **all** | ${perMsg(sent, msgs)} | ${perMsg(total - sent, msgs)} | ${perMsg(total, msgs)} | 100 % |`);
  log('  the steps behind it (per msg: sent + inside scripts):');
  const steps = [...tally.steps].sort((a, b) => b[1].calls + b[1].inner - (a[1].calls + a[1].inner));
  for (const [step, c] of steps.slice(0, 30)) log(`    ${(c.calls + c.inner) / msgs >= 0.005 ? perMsg(c.calls + c.inner, msgs).padStart(6) : '  ~0  '}  ${step}  [${stageOf(step)}] (${perMsg(c.calls, msgs)} sent, ${perMsg(c.inner, msgs)} inside)`);
  log('  inside the scripts, per call (the commands each step costs Redis):');
  for (const [step, c] of steps.filter(([, c]) => c.innerByName !== undefined).slice(0, 12)) {
    const inside = [...c.innerByName!].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${(n / c.calls).toFixed(1)}`);
    log(`    ${step.split(' ')[0]}: ${(c.inner / c.calls).toFixed(1)} per call (${inside.join(', ')})`);
  }
  return total;
}

/** `npm run bench -- peer-steps`: prints the breakdown; its one row (commands per message) is informative. */
export async function runPeerSteps(log: Log, opts: { scale?: number } = {}): Promise<GoalRow[]> {
  const msgs = Math.max(200, Math.round(MSGS * (opts.scale ?? 1)));
  recordScriptNames();
  const server = await startRedis({ appendonly: false });
  try {
    const probe = new RedisProbe(server.client());
    const side = distributedSide(server.url);
    log(`  batchgate distributed (gateway + worker in this process), ${msgs} msgs at ${RATE_PER_SEC} msgs/s, MONITOR on redis-server ${await probe.version()} during the run (after a warm-up run)`);
    await timeSide(side, 'stepswarm', Math.ceil(msgs / 4), RATE_PER_SEC, probe);
    const tally = new MonitorTally(server.port, 'steps');
    const sample = await timeSide(side, 'steps', msgs, RATE_PER_SEC, probe, tally);
    const a = sample.accounting;
    log(`  ${a.batches} batches (${(a.delivered / a.batches).toFixed(2)} msgs/batch), ${a.delivered}/${msgs} delivered, ${a.replies} replies`);
    const total = report(tally, msgs, log);
    log(`  MONITOR counted ${(total / msgs).toFixed(2)} commands/msg; INFO commandstats over the same run ${commandsPerMsg(sample).toFixed(2)} (the probe's own INFO/CONFIG left out of both)`);
    return [{ scenario: 'peer-steps distributed (1k msgs)', metric: 'Redis cmds/msg', ours: total / msgs, baseline: commandsPerMsg(sample), baselineName: 'INFO commandstats', higherIsBetter: false }];
  } finally {
    await server.stop();
  }
}
