import type { Redis } from 'ioredis';
import type { HoldCause } from '../core/events.js';
import type { AppendResult, ChangeResult, ChannelStats, EmitQueueEvent, FinishOutcome, FinishResult, MessageEdit, SealResult, TakenBatch } from '../core/batch-store.js';
import type { ChangeApplied } from '../core/events.js';
import { MessageBatch, channelKeyOf, messageToJSON, parseChannelKey, type FlushReason, type OutboundMessage, type QueuedMessage } from '../core/model.js';
import type { ChannelSettings, SettingsOverride, SettingsPolicy } from '../core/policy.js';
import { messageTurn } from '../core/turn-rules.js';
import { KeyLayout } from './keys.js';
import {
  asList,
  batchArgs,
  decodeEntry,
  decodeFinish,
  decodeSeal,
  decodeStats,
  encodeMessage,
  seqOf,
  splitFirstLine,
  type RawSeal,
  type RawStats,
} from './redis-codec.js';
import { StepRunner, type StepReply } from './step-runner.js';
import type { ClaimResult, DeadLetter, DistributedBatchStore, Fence, UnenqueuedBatch } from './store-steps.js';

export interface RedisBatchStoreOptions {
  /** A command connection (not one that blocks or subscribes), without `keyPrefix`. The store does not close it. */
  redis: Redis;
  policy: SettingsPolicy;
  emit: EmitQueueEvent;
  /** Share of maxQueuedBatches at which a channel warns once per crossing. @defaultValue 0.75 */
  queueWarnRatio?: number;
  /** Prefix of every key. @defaultValue 'bg' */
  prefix?: string;
  /** Shards (Cluster slots) the channels spread over; the same on every process. @defaultValue 16 */
  shards?: number;
  /**
   * Whose clock the steps read. `redis`: every step reads Redis `TIME` inside its script and ignores a `now`
   * passed to it, so callers pass none. `caller`: the `now` a BatchStore step is given (the behavioural suite
   * drives both stores on one fake clock); steps given none still read Redis `TIME`. @defaultValue 'redis'
   */
  clock?: 'redis' | 'caller';
  /** How long a message id is remembered, to drop platform retries. @defaultValue 86400000 (24 h) */
  dedupeTtlMs?: number;
  /** Dead letters kept per shard. @defaultValue 1000 */
  deadLetterMax?: number;
  /** Idle channels whose counters stay readable, across all shards. @defaultValue 1000 */
  rememberIdle?: number;
  /** Reply streams are trimmed near this length. @defaultValue 100000 */
  replyStreamMaxLen?: number;
  /** Whether anyone consumes `message.appended`; when false, APPEND reports none. @defaultValue always true */
  listening?: () => boolean;
}

const OVERRIDE_CACHE_MAX = 1_000;

/**
 * The distributed store: every step is one Lua script on one shard (docs/distributed.md), so any gateway can run any step and a crash never leaves half a
 * transition. Semantics follow {@link InMemoryBatchStore} step for step; the behavioural suite runs on both.
 *
 * `activeChannels()` is a cached count: shard steps (the flusher's seal-due pass) report their shard's
 * active channels and channel steps the channel they added or removed, so the sum follows this process's
 * own changes at once and other gateways' changes by the next shard step.
 */
export class RedisBatchStore implements DistributedBatchStore {
  private readonly overrides = new Map<string, SettingsOverride>();
  private readonly lastOverride = new Map<string, string>();
  /**
   * Author keys this process appended to, with their channel's settings (the scripts keep them in the
   * key's hash too). Another process (a worker) resolves an author key through the policy, which matches
   * the key itself: globs such as `discord:*` cover it, an exact channel pattern does not.
   */
  private readonly authorBases = new Map<string, ChannelSettings>();
  private sealRotor = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly policy: SettingsPolicy,
    private readonly keys: KeyLayout,
    private readonly runner: StepRunner,
    private readonly limits: { dedupeTtl: string; deadLetterMax: string; replyMaxLen: string },
    private readonly listening: () => boolean,
  ) {}

  /** Loads the scripts, counts the generation (bumped when Redis's run changed) and the active channels. */
  static async create(options: RedisBatchStoreOptions): Promise<RedisBatchStore> {
    const { redis, policy } = options;
    // ioredis would prefix the keys a script declares but not the names the script builds from them.
    if (redis.options.keyPrefix) throw new Error("RedisBatchStore needs a client without keyPrefix; set the store's `prefix` instead");
    const keys = new KeyLayout(options.prefix ?? 'bg', options.shards ?? 16);
    const runner = await StepRunner.start({
      redis,
      keys,
      policy,
      emit: options.emit,
      callerClock: options.clock === 'caller',
      queueWarnRatio: options.queueWarnRatio ?? 0.75,
      idlePerShard: Math.ceil((options.rememberIdle ?? 1_000) / keys.shards.length),
    });
    return new RedisBatchStore(redis, policy, keys, runner, {
      dedupeTtl: String(options.dedupeTtlMs ?? 86_400_000),
      deadLetterMax: String(options.deadLetterMax ?? 1_000),
      replyMaxLen: String(options.replyStreamMaxLen ?? 100_000),
    }, options.listening ?? (() => true));
  }

  private step(...args: Parameters<StepRunner['step']>): Promise<StepReply> {
    return this.runner.step(...args);
  }

  // ── decoding replies ──────────────────────────────────────────────────────

  /** Effective settings from the override a step read; parsed overrides are cached by their text. */
  private settingsFrom(channelKey: string, ov: unknown): ChannelSettings {
    const authorBase = this.authorBases.get(channelKey);
    if (authorBase !== undefined) return typeof ov === 'string' ? Object.freeze({ ...authorBase, ...(JSON.parse(ov) as SettingsOverride) }) : authorBase;
    if (typeof ov !== 'string') return this.policy.base(channelKey);
    let override = this.overrides.get(ov);
    if (override === undefined) {
      if (this.overrides.size >= OVERRIDE_CACHE_MAX) this.overrides.clear();
      override = JSON.parse(ov) as SettingsOverride;
      this.overrides.set(ov, override);
    }
    return this.policy.resolve(channelKey, override);
  }

  /**
   * The override each channel's last append read, by key: the content rules and flushOn are evaluated
   * here before the append script runs, with the settings this gateway last saw (an override another
   * gateway just changed applies from this gateway's next message on).
   */
  private rememberOverride(channelKey: string, ov: unknown): void {
    if (typeof ov !== 'string') {
      this.lastOverride.delete(channelKey);
      return;
    }
    if (this.lastOverride.size >= OVERRIDE_CACHE_MAX) this.lastOverride.clear();
    this.lastOverride.set(channelKey, ov);
  }

  private rememberAuthorBase(key: string, settings: ChannelSettings): void {
    if (this.authorBases.size >= OVERRIDE_CACHE_MAX && !this.authorBases.has(key)) this.authorBases.clear();
    this.authorBases.set(key, settings);
  }

  private sealResults(replies: StepReply[]): SealResult[] {
    return replies.flatMap((r) => asList<RawSeal>(r.meta.sealed).map(decodeSeal));
  }

  private toStats(st: RawStats): ChannelStats {
    return decodeStats(st, this.settingsFrom(st.k, st.ov));
  }

  // ── BatchStore ────────────────────────────────────────────────────────────

  async append(msg: QueuedMessage, now?: number, channelKey: string = channelKeyOf(msg), group?: ChannelSettings): Promise<AppendResult> {
    const dedupeKey = this.keys.dedupe(channelKey, msg.id);
    const turn = messageTurn(msg.text, this.settingsFrom(channelKey, this.lastOverride.get(channelKey)));
    const appendedId = this.listening() ? msg.id : '';
    const turnArgs = [turn.fenceOdd ? '1' : '0', turn.rule ?? '', turn.flush ? '1' : '', appendedId, group === undefined ? '' : '1'];
    if (group !== undefined) this.rememberAuthorBase(channelKey, group);
    const { meta } = await this.step('append', channelKey, [encodeMessage(msg), this.limits.dedupeTtl, ...turnArgs], { now, keys: [dedupeKey], ...(group === undefined ? {} : { base: group }) });
    this.rememberOverride(channelKey, meta.ov);
    const settings = this.settingsFrom(channelKey, meta.ov);
    switch (meta.s) {
      case 'regroup':
        return { status: 'regroup', settings };
      case 'open':
        return { status: 'open', pending: meta.pending as number, deadline: meta.deadline as number, settings };
      case 'sealed':
        return { status: 'sealed', sealed: decodeSeal(meta.sealed as RawSeal), settings };
      case 'rejected':
        return { status: 'rejected', reason: 'queue full', settings };
      default:
        return { status: 'duplicate', settings };
    }
  }

  /**
   * Seals due windows on every shard, at most `limit` in all: the budget is split over the shards (the
   * first shards rotate between calls), and shards that used their whole share are asked again.
   */
  async sealDue(now: number | undefined, limit: number): Promise<SealResult[]> {
    const out: SealResult[] = [];
    let failure: unknown;
    let pending = this.keys.shards;
    while (pending.length > 0 && out.length < limit) {
      const start = this.sealRotor++ % pending.length;
      const order = [...pending.slice(start), ...pending.slice(0, start)];
      const budget = limit - out.length;
      const share = Math.floor(budget / order.length);
      const asked = order.map((shard, i) => ({ shard, quota: share + (i < budget % order.length ? 1 : 0) })).filter((a) => a.quota > 0);
      const replies = await Promise.allSettled(asked.map((a) => this.runner.shardStep('seal-due', a.shard, [String(a.quota)], { now })));
      // Shards not asked this round, and those that filled their quota, may hold more.
      const next = order.filter((s) => !asked.some((a) => a.shard === s));
      replies.forEach((r, i) => {
        // One shard failing must not hide what the others sealed (those batches are out of their windows
        // already); the failed shard is asked again at the next wake-up.
        if (r.status === 'rejected') {
          failure ??= r.reason;
          return;
        }
        const sealed = this.sealResults([r.value]);
        out.push(...sealed);
        if (sealed.length === asked[i]!.quota) next.push(asked[i]!.shard);
      });
      pending = next;
    }
    if (failure !== undefined && out.length === 0) throw failure;
    return out;
  }

  async nextDeadline(): Promise<number | null> {
    const heads = await Promise.all(this.keys.shards.map((s) => this.redis.zrange(s.due, 0, 0, 'WITHSCORES')));
    let min = Infinity;
    for (const h of heads) if (h.length === 2) min = Math.min(min, Number(h[1]));
    return min === Infinity ? null : min;
  }

  async seal(channelKey: string, reason: FlushReason, now?: number): Promise<SealResult | null> {
    const { meta } = await this.step('seal', channelKey, [reason], { now });
    return meta.sealed === undefined ? null : decodeSeal(meta.sealed as RawSeal);
  }

  async sealAll(reason: FlushReason, now?: number): Promise<SealResult[]> {
    return this.sealResults(await this.runner.eachShard('seal-all', [reason], { now }));
  }

  async pushFront(channelKey: string, item: QueuedMessage | MessageBatch, now?: number): Promise<SealResult> {
    let args: string[];
    if (item instanceof MessageBatch) {
      item.flushReason = 'admin';
      args = ['batch', ...batchArgs(item)];
    } else {
      args = ['message', `[${encodeMessage(item)}]`, '', '1', '0', '0'];
    }
    const { meta } = await this.step('push-front', channelKey, args, { now });
    return decodeSeal(meta.sealed as RawSeal);
  }

  async restore(batches: MessageBatch[], now?: number): Promise<SealResult[]> {
    // Sent together on one connection: Redis runs them in this order, so per-channel order holds.
    const replies = await Promise.all(
      batches.filter((b) => b.size > 0).map((b) => this.step('restore', b.channelKey, [...batchArgs(b), b.flushReason ?? ''], { now })),
    );
    return replies.map((r) => decodeSeal(r.meta.sealed as RawSeal));
  }

  async take(channelKey: string, now?: number): Promise<TakenBatch | null> {
    const { meta, blobs } = await this.step('take', channelKey, [], { now });
    if (blobs.length === 0) return null;
    const { header, batch } = decodeEntry(channelKey, blobs[0]!);
    return { batch, sealedAt: header.sealedAt, attempt: header.attempt, settings: this.settingsFrom(channelKey, meta.ov) };
  }

  async finish(channelKey: string, batchId: string, outcome: FinishOutcome, now?: number): Promise<FinishResult> {
    return decodeFinish((await this.step('finish', channelKey, [batchId, outcome], { now })).meta);
  }

  async interrupt(channelKey: string, batchId: string, now?: number): Promise<FinishResult> {
    return decodeFinish((await this.step('interrupt', channelKey, [batchId], { now })).meta);
  }

  async steer(channelKey: string, batchId: string, now?: number): Promise<QueuedMessage[]> {
    return this.steerStep(channelKey, [batchId, '', '', ''], now);
  }

  async steerFenced(channelKey: string, batchId: string, fence: Fence): Promise<QueuedMessage[]> {
    return this.steerStep(channelKey, this.fenceArgs(batchId, fence));
  }

  private async steerStep(channelKey: string, args: string[], now?: number): Promise<QueuedMessage[]> {
    const { blobs } = await this.step('steer', channelKey, args, { now });
    return blobs.length === 0 ? [] : (JSON.parse(blobs[0]!) as QueuedMessage[]);
  }

  async release(channelKey: string, batchId: string, now?: number): Promise<FinishResult> {
    return decodeFinish((await this.step('release', channelKey, [batchId], { now })).meta);
  }

  async pause(channelKey: string, now?: number): Promise<boolean> {
    return (await this.step('pause', channelKey, [], { now })).meta.ok === true;
  }

  async resume(channelKey: string, now?: number): Promise<{ nextSeq: number | null } | undefined> {
    const { meta } = await this.step('resume', channelKey, [], { now });
    return meta.ok === true ? { nextSeq: seqOf(meta.next) } : undefined;
  }

  async disarm(channelKey: string): Promise<boolean> {
    return (await this.step('disarm', channelKey)).meta.ok === true;
  }

  async hold(channelKey: string, holdMs: number, now?: number, reason?: HoldCause): Promise<number | null> {
    const { meta } = await this.step('hold', channelKey, [String(Math.max(0, Math.round(holdMs))), reason ?? ''], { now });
    return meta.ok === true ? (meta.deadline as number) : null;
  }

  async typing(channelKey: string, userId: string, now?: number): Promise<number | null> {
    const { meta } = await this.step('typing', channelKey, [userId], { now });
    return meta.ok === true ? (meta.deadline as number) : null;
  }

  /**
   * One script (change.lua) finds the message in the open, queued or in-flight batch and applies the
   * change; an answered message is known by its dedupe key (kept `dedupeTtlMs`). A follow-up of an answered
   * message is built here from the edit's author, since Redis keeps no answered batch.
   */
  async change(channelKey: string, messageId: string, edit: MessageEdit | null, now?: number): Promise<ChangeResult> {
    const base = this.policy.base(channelKey);
    let followUp = '';
    if (edit !== null && edit.userId !== undefined) {
      const { platform, channelId } = parseChannelKey(channelKey);
      const at = now ?? Date.now();
      const msg = { id: messageId, platform, channelId, userId: edit.userId, userName: edit.userName ?? edit.userId, text: edit.text, editedAt: at, edited: true as const, queuedAt: at, extra: {} };
      followUp = JSON.stringify(messageToJSON(msg));
    }
    const args = [messageId, JSON.stringify(messageId), edit === null ? 'delete' : 'edit', edit === null ? '' : JSON.stringify(edit.text), base.editAfterReply, followUp];
    const { meta } = await this.step('change', channelKey, args, { now, keys: [this.keys.dedupe(channelKey, messageId)] });
    const result: ChangeResult = { applied: meta.applied as ChangeApplied };
    if (typeof meta.batchId === 'string') result.batchId = meta.batchId;
    if (meta.abort === true) result.abort = true;
    if (meta.sealed !== undefined) result.sealed = decodeSeal(meta.sealed as RawSeal);
    return result;
  }

  async clear(channelKey: string, now?: number): Promise<number> {
    return (await this.step('clear', channelKey, [], { now })).meta.removed as number;
  }

  /** Per channel in queue order; channels ordered by their oldest waiting batch (ids sort by creation). */
  async drainWaiting(): Promise<MessageBatch[]> {
    const channels: MessageBatch[][] = [];
    for (const { meta, blobs } of await this.runner.eachShard('drain')) {
      let at = 0;
      for (const g of asList<{ k: string; n: number }>(meta.groups)) {
        channels.push(blobs.slice(at, at + g.n).map((e) => decodeEntry(g.k, e).batch));
        at += g.n;
      }
    }
    channels.sort((a, b) => (a[0]!.id < b[0]!.id ? -1 : a[0]!.id > b[0]!.id ? 1 : 0));
    return channels.flat();
  }

  async getOverride(channelKey: string): Promise<SettingsOverride | null> {
    const ov = await this.redis.hget(this.keys.channel(channelKey).hash, 'ov');
    return ov === null ? null : (JSON.parse(ov) as SettingsOverride);
  }

  async setOverride(channelKey: string, override: SettingsOverride, now?: number): Promise<{ deadline: number | null; settings: ChannelSettings }> {
    const { meta } = await this.step('set-override', channelKey, [JSON.stringify(override)], { now });
    return { deadline: (meta.deadline as number | undefined) ?? null, settings: this.settingsFrom(channelKey, meta.ov) };
  }

  async deleteOverride(channelKey: string, now?: number): Promise<{ deadline: number | null; settings: ChannelSettings } | null> {
    const { meta } = await this.step('delete-override', channelKey, [], { now });
    if (meta.ok !== true) return null;
    return { deadline: (meta.deadline as number | undefined) ?? null, settings: this.policy.base(channelKey) };
  }

  async settings(channelKey: string): Promise<ChannelSettings> {
    return this.settingsFrom(channelKey, await this.redis.hget(this.keys.channel(channelKey).hash, 'ov'));
  }

  async stats(channelKey: string): Promise<ChannelStats | null> {
    const st = (await this.step('stats', channelKey)).meta.st as RawStats | undefined;
    return st === undefined ? null : this.toStats(st);
  }

  async list(): Promise<ChannelStats[]> {
    return (await this.runner.eachShard('list')).flatMap((r) => asList<RawStats>(r.meta.list).map((st) => this.toStats(st)));
  }

  activeChannels(): number {
    return this.runner.activeChannels();
  }

  /** Stops following reconnects; the connection belongs to the caller. */
  close(): void {
    this.runner.stop();
  }

  // ── DistributedBatchStore ─────────────────────────────────────────────────

  async redisNow(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1_000 + Math.floor(Number(us) / 1_000);
  }

  generation(): number {
    return this.runner.generation();
  }

  async markEnqueued(channelKey: string, batchId: string): Promise<boolean> {
    return (await this.step('mark-enqueued', channelKey, [batchId])).meta.ok === true;
  }

  async claim(channelKey: string, batchId: string): Promise<ClaimResult> {
    const { meta, blobs } = await this.step('claim', channelKey, [batchId]);
    if (meta.stale === true) return { status: 'stale' };
    const { header, batch } = decodeEntry(channelKey, blobs[0]!);
    const fence: Fence = { gen: Number(meta.gen), seq: Number(meta.seq), token: Number(meta.token) };
    return { status: 'claimed', claimed: { batch, settings: this.settingsFrom(channelKey, meta.ov), fence, sealedAt: header.sealedAt, attempt: header.attempt } };
  }

  async isCurrent(channelKey: string, batchId: string, fence: Fence): Promise<boolean> {
    const [id, gen, seq, token] = await this.redis.hmget(this.keys.channel(channelKey).hash, 'fid', 'fgen', 'fseq', 'ftok');
    return id === batchId && gen === String(fence.gen) && seq === String(fence.seq) && token === String(fence.token);
  }

  private fenceArgs(batchId: string, fence: Fence): string[] {
    return [batchId, String(fence.gen), String(fence.seq), String(fence.token)];
  }

  /** The stream is one more key of the script: on a Cluster it must share the channel's slot. */
  async publishReply(channelKey: string, batchId: string, fence: Fence, reply: OutboundMessage, stream: string): Promise<boolean> {
    const args = [...this.fenceArgs(batchId, fence), JSON.stringify(reply), this.limits.replyMaxLen];
    return (await this.step('publish-reply', channelKey, args, { keys: [stream] })).meta.ok === true;
  }

  async ack(channelKey: string, batchId: string, fence: Fence, outcome: FinishOutcome): Promise<FinishResult> {
    return decodeFinish((await this.step('ack', channelKey, [...this.fenceArgs(batchId, fence), outcome])).meta);
  }

  async failFinally(channelKey: string, batchId: string, fence: Fence, policy: 'block' | 'dead-letter', error: string): Promise<FinishResult> {
    const args = [...this.fenceArgs(batchId, fence), policy, error, this.limits.deadLetterMax];
    return decodeFinish((await this.step('fail-finally', channelKey, args, { keys: [this.keys.shardOf(channelKey).dead] })).meta);
  }

  /** Newest first across shards (each shard keeps its own capped list, so the step stays in one slot). */
  async deadLetters(limit: number): Promise<DeadLetter[]> {
    if (limit <= 0) return [];
    const lists = await Promise.all(this.keys.shards.map((s) => this.redis.lrange(s.dead, 0, limit - 1)));
    const out = lists.flat().map((text) => {
      const [head, entry] = splitFirstLine(text);
      const { channelKey, error, failedAt } = JSON.parse(head) as Omit<DeadLetter, 'batch'>;
      return { channelKey, error, failedAt, batch: decodeEntry(channelKey, entry).batch.toJSON() };
    });
    return out.sort((a, b) => b.failedAt - a.failedAt).slice(0, limit);
  }

  async inFlightBefore(olderThan: number, limit: number, from?: number): Promise<UnenqueuedBatch[]> {
    const lowest = from === undefined ? '-inf' : String(Math.floor(from));
    const replies = await this.runner.eachShard('in-flight-before', [String(Math.floor(olderThan)), String(limit), lowest]);
    return replies
      .flatMap((r) => asList<{ k: string; id: string; at: number; enq: boolean }>(r.meta.list))
      .sort((a, b) => a.at - b.at)
      .slice(0, limit)
      .map((b) => ({ channelKey: b.k, batchId: b.id, startedAt: b.at, enqueued: b.enq }));
  }

  /** Oldest seal first across shards. */
  async inFlightCount(): Promise<number> {
    const counts = await Promise.all(this.keys.shards.map((s) => this.redis.zcard(s.inflight)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async readyChannels(limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const heads = await Promise.all(this.keys.shards.map((s) => this.redis.zrange(s.ready, 0, limit - 1, 'WITHSCORES')));
    const all: Array<{ key: string; seq: number }> = [];
    for (const h of heads) for (let i = 0; i < h.length; i += 2) all.push({ key: h[i]!, seq: Number(h[i + 1]) });
    return all
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((r) => r.key);
  }

  async inFlightId(channelKey: string): Promise<string | null> {
    return this.redis.hget(this.keys.channel(channelKey).hash, 'fid');
  }
}
