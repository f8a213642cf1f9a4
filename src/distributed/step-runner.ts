import type { Redis } from 'ioredis';
import type { EmitQueueEvent } from '../core/batch-store.js';
import type { QueueEvent } from '../core/events.js';
import { createBatchId } from '../core/model.js';
import type { ChannelSettings, SettingsPolicy } from '../core/policy.js';
import type { KeyLayout, ShardKeys } from './keys.js';
import { asList, encodeSettings, type ScriptMeta } from './redis-codec.js';
import { StoreScripts, type StepScript } from './redis-scripts.js';

export interface StepRunnerOptions {
  redis: Redis;
  keys: KeyLayout;
  policy: SettingsPolicy;
  emit: EmitQueueEvent;
  callerClock: boolean;
  queueWarnRatio: number;
  /** Idle channels remembered per shard. */
  idlePerShard: number;
}

/** The clock argument that makes a script read Redis `TIME` (lib.lua). */
const REDIS_TIME = '';

export interface StepOptions {
  /** The caller's time, read only by a store on the caller clock (the behavioural suite); else Redis `TIME`. */
  now?: number | undefined;
  /** Keys the script declares after the channel's own. */
  keys?: string[];
  /** The channel's configured settings, when not the policy's for its key (an author's key: its channel's). */
  base?: ChannelSettings;
}

/** A script's answer: its meta and the entry strings after it. */
export interface StepReply {
  meta: ScriptMeta;
  blobs: string[];
}

/**
 * Runs the store's scripts with the arguments every step shares (lib.lua header): the clock, the warn
 * ratio, the generation, a fresh batch id, the idle cap, the shard and the channel's configured settings.
 * It emits each step's events, keeps each shard's active-channel count (reported by shard steps, and
 * moved by the changes channel steps report), and follows the generation.
 */
export class StepRunner {
  private readonly redis: Redis;
  private readonly keys: KeyLayout;
  private readonly policy: SettingsPolicy;
  private readonly emit: EmitQueueEvent;
  private readonly callerClock: boolean;
  private readonly warnRatioText: string;
  private readonly idleCapText: string;
  private readonly shardKeyLists: string[][];
  private readonly activeByShard: number[];
  private gen = 0;
  private readonly onReady = () => {
    // A reconnect may be to a restarted Redis; a failure here is retried at the next reconnect.
    void this.checkGeneration().catch(() => undefined);
  };

  private constructor(
    options: StepRunnerOptions,
    private readonly scripts: StoreScripts,
  ) {
    this.redis = options.redis;
    this.keys = options.keys;
    this.policy = options.policy;
    this.emit = options.emit;
    this.callerClock = options.callerClock;
    this.warnRatioText = String(options.queueWarnRatio);
    this.idleCapText = String(options.idlePerShard);
    this.shardKeyLists = this.keys.shards.map((s) => [s.due, s.chans, s.inflight, s.ready, s.idle, s.seq]);
    this.activeByShard = this.keys.shards.map(() => 0);
  }

  /** Loads the scripts, counts the generation and the active channels, and follows reconnects. */
  static async start(options: StepRunnerOptions): Promise<StepRunner> {
    const runner = new StepRunner(options, await StoreScripts.load(options.redis));
    await runner.checkGeneration();
    const counts = await Promise.all(runner.keys.shards.map((s) => runner.redis.scard(s.chans)));
    counts.forEach((n, i) => (runner.activeByShard[i] = n));
    runner.redis.on('ready', runner.onReady);
    return runner;
  }

  stop(): void {
    this.redis.off('ready', this.onReady);
  }

  generation(): number {
    return this.gen;
  }

  /** Sum of the shards' active channels as the last step on each shard reported them. */
  activeChannels(): number {
    let n = 0;
    for (const c of this.activeByShard) n += c;
    return n;
  }

  private async checkGeneration(): Promise<void> {
    const info = await this.redis.info('server');
    const runId = /^run_id:(\w+)/m.exec(info)?.[1];
    if (runId === undefined) throw new Error('INFO server has no run_id: cannot tell whether Redis restarted');
    this.gen = Number(await this.scripts.run('generation', [this.keys.generation], [runId]));
  }

  /** The script's clock argument: the caller's time only with the caller clock, else Redis TIME. */
  private nowArg(now: number | undefined): string {
    return this.callerClock && now !== undefined ? String(Math.floor(now)) : REDIS_TIME;
  }

  private common(now: number | undefined, shard: ShardKeys, channelKey: string, settings?: ChannelSettings): string[] {
    const base = encodeSettings(settings ?? this.policy.base(channelKey));
    return [this.nowArg(now), this.warnRatioText, String(this.gen), createBatchId(), this.idleCapText, shard.base, channelKey, base];
  }

  /** One channel's step: shard keys, the channel's keys, then `options.keys`. */
  async step(name: StepScript, channelKey: string, extraArgs: string[] = [], options: StepOptions = {}): Promise<StepReply> {
    const k = this.keys.channel(channelKey);
    const keys = [...this.shardKeyLists[k.shard.index]!, k.hash, k.open, k.queue, k.flight, ...(options.keys ?? [])];
    return this.settle(k.shard, await this.scripts.run(name, keys, [...this.common(options.now, k.shard, channelKey, options.base), ...extraArgs]));
  }

  /** A shard's step on every shard at once (one round trip), each shard atomic on its own. */
  eachShard(name: StepScript, extraArgs: string[] = [], options: StepOptions = {}): Promise<StepReply[]> {
    return Promise.all(this.keys.shards.map((s) => this.shardStep(name, s, extraArgs, options)));
  }

  async shardStep(name: StepScript, shard: ShardKeys, extraArgs: string[] = [], options: StepOptions = {}): Promise<StepReply> {
    const args = [...this.common(options.now, shard, ''), ...extraArgs];
    return this.settle(shard, await this.scripts.run(name, this.shardKeyLists[shard.index]!, args));
  }

  private settle(shard: ShardKeys, reply: unknown): StepReply {
    const [head, ...blobs] = reply as string[];
    const meta = JSON.parse(head!) as ScriptMeta;
    if (meta.ac !== undefined) this.activeByShard[shard.index] = meta.ac;
    else if (meta.acd !== undefined) this.activeByShard[shard.index] = Math.max(0, this.activeByShard[shard.index]! + meta.acd);
    for (const { t, k, ...fields } of asList<NonNullable<ScriptMeta['ev']>[number]>(meta.ev)) {
      this.emit({ type: t, channelKey: k, at: meta.now as number, ...fields } as QueueEvent);
    }
    return { meta, blobs };
  }
}
