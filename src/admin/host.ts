import type { Logger } from 'pino';
import type { InboundMessage, PlatformAdapter } from '../../adapters/adapter.js';
import type { Channel } from '../bus/index.js';
import type { GatewayConfig } from '../config/schema.js';
import type { BatchingEngine } from '../core/engine.js';
import type { QueueEvent } from '../core/events.js';
import type { TimelineStore } from '../core/timeline.js';

/** A reply the gateway dropped on its way to an adapter because its batch was cancelled. */
export type ReplyDroppedEvent = Extract<QueueEvent, { type: 'reply.dropped' }>;

/**
 * What the admin API needs of the process it runs in: the engine it steers, the live views it shows and the
 * sources its metrics count. The gateway implements it; the admin API never sees the rest of the gateway,
 * so `src/admin` depends on this contract and on nothing the gateway builds.
 */
export interface AdminHost {
  /** The config sections the admin API reads: its token, the allowed hosts, the warn ratio, the mode. */
  readonly config: Pick<GatewayConfig, 'admin' | 'http' | 'batching' | 'redis' | 'observability'>;
  readonly logger: Logger;
  /** The engine behind every channel route: read, cancel, stop, resume, settings, inject, dead letters. */
  readonly queue: BatchingEngine;
  /** The connected adapters; the stats route lists a platform for each, even before it has a channel. */
  readonly adapters: ReadonlyArray<Pick<PlatformAdapter, 'platform'>>;
  /** True from the start of shutdown: injections are refused with 503. */
  readonly isShuttingDown: boolean;
  /** Aborts when shutdown begins: event streams end and listeners are removed. */
  readonly signal: AbortSignal;
  /** The bus channel of queue events, streamed to `/api/v1/events`. */
  readonly bus: { get(name: 'events'): Channel<QueueEvent> };
  /** Each channel's decision timeline, read by `GET /api/v1/channels/:key/timeline`. */
  readonly timeline: Pick<TimelineStore, 'read'>;
  /** The channel's `clear`: its waiting messages and what the processor remembers of it. Returns the messages removed. */
  clearChannel(channelKey: string): Promise<number>;
  /** Replies sent and failed per platform, monotonic. */
  replyStats(): Record<string, { sent: number; failed: number }>;
  /** Calls `listener` with every message an adapter got into a channel. Returns what removes it. */
  onAccepted(listener: (msg: InboundMessage) => void): () => void;
  /** Calls `listener` with every reply dropped for a cancelled batch. Returns what removes it. */
  onReplyDropped(listener: (event: ReplyDroppedEvent) => void): () => void;
}

