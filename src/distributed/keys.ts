import { crc32 } from 'node:zlib';

/** The keys of one shard: every key of the shard and of its channels shares the hash tag `{n}`. */
export interface ShardKeys {
  index: number;
  /** `${prefix}:{n}`, the base the Lua scripts build channel keys from. */
  base: string;
  /** ZSET channel → deadline of its open batch. */
  due: string;
  /** SET of the channels that hold state. */
  chans: string;
  /** ZSET channel → when its batch went in flight. */
  inflight: string;
  /** ZSET channel → seal order of its queue head, for channels a worker may take now. */
  ready: string;
  /** ZSET recently idle channel → since when; their counters stay readable. */
  idle: string;
  /** The shard's last seal order. */
  seq: string;
  /** LIST of dead letters, newest first. */
  dead: string;
}

/** The keys of one channel (plus its shard's). */
export interface ChannelKeys {
  shard: ShardKeys;
  /** HASH: open-batch bounds and deadline, pause flag, override, counters, in-flight marker and fence. */
  hash: string;
  /** LIST of the open batch's messages (JSON). */
  open: string;
  /** LIST of sealed entries waiting (header JSON, newline, messages JSON). */
  queue: string;
  /** The in-flight entry. */
  flight: string;
}

/**
 * Where everything lives in Redis. Channels spread over shards by `crc32(channelKey) % shards`; a shard is
 * one Cluster slot, so each script touches one slot. The Lua scripts build channel keys from the shard
 * base the same way (`lib.lua` `chan()`): change both together.
 */
export class KeyLayout {
  readonly shards: ShardKeys[];
  /** HASH { runid, gen }: the generation and the Redis run it was counted for. */
  readonly generation: string;

  constructor(
    readonly prefix: string,
    shardCount: number,
  ) {
    if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`shards must be a positive integer, got ${shardCount}`);
    this.generation = `${prefix}:gen`;
    this.shards = Array.from({ length: shardCount }, (_, n) => {
      const base = `${prefix}:{${n}}`;
      return {
        index: n,
        base,
        due: `${base}:due`,
        chans: `${base}:chans`,
        inflight: `${base}:inflight`,
        ready: `${base}:ready`,
        idle: `${base}:idle`,
        seq: `${base}:seq`,
        dead: `${base}:dead`,
      };
    });
  }

  shardOf(channelKey: string): ShardKeys {
    return this.shards[crc32(channelKey) % this.shards.length]!;
  }

  channel(channelKey: string): ChannelKeys {
    const shard = this.shardOf(channelKey);
    const p = `${shard.base}:`;
    return { shard, hash: `${p}c:${channelKey}`, open: `${p}o:${channelKey}`, queue: `${p}q:${channelKey}`, flight: `${p}f:${channelKey}` };
  }

  /**
   * Remembers a message id for the dedupe TTL (same slot as its channel). The channel key's length keeps
   * `p:a` + `b:c` apart from `p:a:b` + `c`: both may contain colons.
   */
  dedupe(channelKey: string, msgId: string): string {
    return `${this.shardOf(channelKey).base}:id:${channelKey.length}:${channelKey}:${msgId}`;
  }

  /** STREAM of the channel's decision timeline (same slot as its channel). */
  timeline(channelKey: string): string {
    return `${this.shardOf(channelKey).base}:t:${channelKey}`;
  }
}
