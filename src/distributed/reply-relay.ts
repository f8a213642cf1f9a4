import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MessageBatch, OutboundMessage } from '../core/model.js';
import type { KeyLayout } from './keys.js';

/**
 * Platforms whose replies only the gateway holding the connection can send (a browser's WebSocket);
 * every other platform's replies can go out from any gateway.
 */
const GATEWAY_BOUND_PLATFORMS = new Set(['web']);

/**
 * Reply streams live in the shard of their channel (`<prefix>:{n}:replies`, and per gateway
 * `<prefix>:{n}:replies:gw:<id>`), so the fenced XADD touches one Cluster slot like every other script,
 * and a channel's replies stay in one stream, in order.
 */
export const sharedReplyStream = (shardBase: string): string => `${shardBase}:replies`;
export const gatewayReplyStream = (shardBase: string, gatewayId: string): string => `${shardBase}:replies:gw:${gatewayId}`;

/**
 * The gateway that must answer a batch of `platform`: the one that accepted its latest message, for web
 * chat; undefined (whichever gateway relays the shared replies) for every other platform.
 */
export function boundGatewayOf(platform: string, batch: MessageBatch): string | undefined {
  if (!GATEWAY_BOUND_PLATFORMS.has(platform)) return undefined;
  const gatewayId = batch.messages.at(-1)?.extra?.['gatewayId'];
  return typeof gatewayId === 'string' ? gatewayId : undefined;
}

/** Where a worker XADDs a reply: the accepting gateway's own stream for web chat, else the shared one. */
export function replyStreamFor(keys: KeyLayout, reply: OutboundMessage, batch: MessageBatch): string {
  const base = keys.shardOf(batch.channelKey).base;
  const gatewayId = boundGatewayOf(reply.platform, batch);
  return gatewayId === undefined ? sharedReplyStream(base) : gatewayReplyStream(base, gatewayId);
}

export interface ReplyRelayOptions {
  /** A connection of its own: XREAD BLOCK holds it. */
  blocking: Redis;
  /** For the lease and the cursor. */
  commands: Redis;
  keys: KeyLayout;
  gatewayId: string;
  /** Hands a reply to this gateway's bus (then the adapter). */
  deliver: (reply: OutboundMessage) => Promise<void>;
  /** Resolves once every reply handed over so far was sent (or finally failed); the cursor waits for it. */
  settled?: () => Promise<unknown>;
  logger: Logger;
  /** @defaultValue 5000 */
  leaseMs?: number;
}

const RENEW_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/**
 * Brings replies from Redis to this gateway's adapters. Its own stream (web chat) is always read; the
 * shared stream is read by one gateway at a time, the holder of a lease, from a cursor kept in Redis, so
 * each reply goes out in stream order (which is per-channel batch order). The cursor moves only after
 * the replies before it were sent, so a leader that dies (its lease lapses after `leaseMs`) leaves the
 * next one to resume at the first reply not known to be sent: a reply may repeat then, none is lost.
 */
export class ReplyRelay {
  private readonly blocking: Redis;
  private readonly commands: Redis;
  private readonly gatewayId: string;
  private readonly deliver: ReplyRelayOptions['deliver'];
  private readonly settled: () => Promise<unknown>;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly leaseKey: string;
  private readonly cursorKey: string;
  /** This gateway's streams, one per shard, and where it has read them up to. */
  private readonly own: string[];
  private readonly ownCursors: string[];
  /** The shared streams, and (while leader) where delivery has got to. */
  private readonly shared: string[];
  private sharedCursors: string[] | null = null;
  private leader = false;
  private leaseUntil = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private cursorWrites: Promise<unknown> = Promise.resolve();

  constructor(options: ReplyRelayOptions) {
    this.blocking = options.blocking;
    this.commands = options.commands;
    this.gatewayId = options.gatewayId;
    this.deliver = options.deliver;
    this.settled = options.settled ?? (() => Promise.resolve());
    this.logger = options.logger;
    this.leaseMs = options.leaseMs ?? 5_000;
    const { prefix, shards } = options.keys;
    this.leaseKey = `${prefix}:replies:lease`;
    this.cursorKey = `${prefix}:replies:cursor`;
    this.own = shards.map((s) => gatewayReplyStream(s.base, options.gatewayId));
    // From the start: the streams are named after this run's fresh gateway id, so all they hold is ours
    // ('$' would skip what arrives between two reads of a stream never read before).
    this.ownCursors = this.own.map(() => '0-0');
    this.shared = shards.map((s) => sharedReplyStream(s.base));
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    // The lease is renewed on its own clock: a slow delivery must not let it lapse unnoticed.
    const renew = setInterval(() => void this.refreshLease().catch((err: unknown) => this.logger.warn({ err }, 'reply lease renewal failed')), this.leaseMs / 5);
    renew.unref();
    try {
      await this.readUntilStopped();
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * True when this gateway is the one to act for a channel's batch (its typing indicator): the gateway the
   * batch is bound to, or, when unbound (`gatewayId` undefined), the holder of the shared-stream lease.
   */
  actsFor(gatewayId: string | undefined): boolean {
    return gatewayId === undefined ? this.holdsLease() : gatewayId === this.gatewayId;
  }

  /** True while this gateway may deliver the shared streams: it holds a lease that has not run out. */
  private holdsLease(): boolean {
    return this.leader && Date.now() < this.leaseUntil;
  }

  private async readUntilStopped(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.refreshLease();
        await this.readOnce();
      } catch (err) {
        if (this.stopped) break;
        this.logger.warn({ err }, 'reading replies from Redis failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async refreshLease(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    if (this.leader && now < this.leaseUntil - this.leaseMs / 2) return;
    const ok = this.leader
      ? (await this.commands.eval(RENEW_LEASE, 1, this.leaseKey, this.gatewayId, String(this.leaseMs))) === 1
      : (await this.commands.set(this.leaseKey, this.gatewayId, 'PX', this.leaseMs, 'NX')) === 'OK';
    if (ok && !this.leader) {
      const stored = await this.commands.hmget(this.cursorKey, ...this.shared.map((_, i) => String(i)));
      this.sharedCursors = stored.map((c) => c ?? '0');
      this.logger.info('delivering the shared reply streams');
    }
    if (!ok && this.leader) this.logger.warn('lost the reply lease; another gateway delivers shared replies');
    this.leader = ok;
    if (ok) this.leaseUntil = now + this.leaseMs;
  }

  private async readOnce(): Promise<void> {
    const streams = [...this.own];
    const cursors = [...this.ownCursors];
    if (this.leader && this.sharedCursors !== null) {
      streams.push(...this.shared);
      cursors.push(...this.sharedCursors);
    }
    const res = (await this.blocking.xread('COUNT', 200, 'BLOCK', Math.min(1_000, this.leaseMs / 4), 'STREAMS', ...streams, ...cursors)) as Array<[string, Array<[string, string[]]>]> | null;
    if (res === null) return;
    for (const [stream, entries] of res) {
      const own = this.own.indexOf(stream);
      if (own >= 0) {
        for (const [id, fields] of entries) {
          await this.deliverEntry(fields);
          this.ownCursors[own] = id;
        }
        continue;
      }
      const shard = this.shared.indexOf(stream);
      if (shard < 0 || this.sharedCursors === null) continue;
      let last: string | null = null;
      for (const [id, fields] of entries) {
        // Once the lease ran out another gateway may resume from the stored cursor: stop here, so two
        // gateways never send the same shared replies side by side.
        if (!this.holdsLease()) break;
        await this.deliverEntry(fields);
        last = id;
      }
      if (last === null) continue;
      this.sharedCursors[shard] = last;
      this.saveCursor(shard, last);
    }
  }

  /** Stores a shard's shared cursor once what precedes it was sent; writes stay in order. */
  private saveCursor(shard: number, id: string): void {
    this.cursorWrites = this.cursorWrites
      .then(() => this.settled())
      .then(() => (this.holdsLease() ? this.commands.hset(this.cursorKey, String(shard), id) : undefined))
      .catch((err: unknown) => this.logger.warn({ err }, 'could not store the reply cursor; replies after it may repeat'));
  }

  private async deliverEntry(fields: string[]): Promise<void> {
    const i = fields.indexOf('reply');
    if (i < 0 || i + 1 >= fields.length) return;
    let reply: OutboundMessage;
    try {
      reply = JSON.parse(fields[i + 1]!) as OutboundMessage;
    } catch {
      this.logger.warn('skipping a reply entry that is not JSON');
      return;
    }
    try {
      await this.deliver(reply);
    } catch (err) {
      this.logger.error({ err, channelId: reply.channelId, batchId: reply.batchId }, 'could not hand a reply to the adapter');
    }
  }

  /** Stops reading and gives the lease up so another gateway takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    // Unblocks a pending XREAD.
    this.blocking.disconnect();
    await this.loop?.catch(() => undefined);
    await this.cursorWrites;
    if (this.leader) {
      await this.commands.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, this.leaseKey, this.gatewayId).catch(() => undefined);
      this.leader = false;
    }
  }
}
