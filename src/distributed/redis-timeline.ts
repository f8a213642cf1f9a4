import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { QueueEvent } from '../core/events.js';
import { timelineEntry, type TimelineEntry, type TimelineStore } from '../core/timeline.js';
import type { KeyLayout } from './keys.js';

/** A channel's timeline stream expires this long after its last entry, so channels gone quiet leave Redis. */
export const TIMELINE_TTL_MS = 7 * 86_400_000;

/**
 * Distributed mode's timelines: a Redis stream per channel, trimmed near `size` (`XADD MAXLEN ~`), so any
 * gateway reads any channel's timeline, entries from workers' runs included. Each process writes the events
 * it made itself (a gateway skips the ones a worker relayed to it: the worker wrote them); writes wait for
 * the end of the event-loop turn and go out as one pipeline, so no step waits for them and a burst of
 * messages costs one round trip.
 */
export class RedisTimeline implements TimelineStore {
  private pending: Array<[string, string]> = [];
  private scheduled: NodeJS.Immediate | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly sizeText: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyLayout,
    private readonly size: number,
    private readonly logger?: Logger,
  ) {
    this.sizeText = String(size);
  }

  record(event: QueueEvent): void {
    if (event.relayed === true) return;
    const entry = timelineEntry(event);
    if (entry === null) return;
    this.pending.push([event.channelKey, JSON.stringify(entry)]);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = null;
      this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const pipeline = this.redis.pipeline();
    const touched = new Set<string>();
    for (const [channelKey, json] of batch) {
      const key = this.keys.timeline(channelKey);
      pipeline.xadd(key, 'MAXLEN', '~', this.sizeText, '*', 'e', json);
      touched.add(key);
    }
    for (const key of touched) pipeline.pexpire(key, TIMELINE_TTL_MS);
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed) this.logger?.warn({ err: failed[0] }, 'timeline write failed');
    } catch (err) {
      this.logger?.warn({ err, entries: batch.length }, 'timeline write failed');
    }
  }

  async read(channelKey: string, limit: number): Promise<TimelineEntry[]> {
    const rows = await this.redis.xrevrange(this.keys.timeline(channelKey), '+', '-', 'COUNT', Math.min(limit, this.size));
    const out: TimelineEntry[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const fields = rows[i]![1];
      const json = fields[fields.indexOf('e') + 1];
      if (json !== undefined) out.push(JSON.parse(json) as TimelineEntry);
    }
    return out;
  }

  /** Writes what is still buffered. */
  async close(): Promise<void> {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    await this.flushing;
    await this.flush();
  }
}
