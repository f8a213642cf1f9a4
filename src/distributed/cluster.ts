import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { runCloseSteps } from '../core/close-steps.js';
import type { QueueEvent } from '../core/events.js';
import type { OutboundMessage } from '../core/model.js';
import { SettingsPolicy } from '../core/policy.js';
import { connectRedis, whenReady } from './connection.js';
import { ControlBus } from './control.js';
import { BatchDispatcher } from './dispatcher.js';
import { DistributedQueue } from './distributed-queue.js';
import { Flusher } from './flusher.js';
import { RedisBatchStore } from './redis-store.js';
import { KeyLayout } from './keys.js';
import { ReplyRelay } from './reply-relay.js';

/** The Redis side every process of a cluster needs: connections, the store, BullMQ dispatch, pub/sub. */
export interface ClusterConnection {
  commands: Redis;
  store: RedisBatchStore;
  dispatcher: BatchDispatcher;
  control: ControlBus;
  close(): Promise<void>;
}

/** What a process adds to its cluster connection. */
export interface ClusterOptions {
  /** Set while tracing is on: BullMQ jobs carry their batch's trace context. */
  tracing?: { carrierOf?: (batchId: string) => Record<string, string> | undefined } | undefined;
}

/** Connects to the cluster's Redis; fails with a clear message when Redis cannot be reached. */
export async function connectCluster(config: GatewayConfig, logger: Logger, emit: (event: QueueEvent) => void, options: ClusterOptions = {}): Promise<ClusterConnection> {
  const url = config.redis.url;
  const d = config.distributed;
  const commands = connectRedis(url, 'commands', logger);
  const subscriber = connectRedis(url, 'subscriber', logger);
  const closeAll = async () => {
    commands.disconnect();
    subscriber.disconnect();
  };
  try {
    await whenReady(commands, url);
    const store = await RedisBatchStore.create({
      redis: commands,
      policy: new SettingsPolicy(config.batching.defaults, config.batching.channels),
      emit,
      queueWarnRatio: config.batching.queueWarnRatio,
      prefix: d.prefix,
      shards: d.shards,
      dedupeTtlMs: d.dedupeTtlMs,
    });
    const tracing = options.tracing ? { redis: commands, ...options.tracing } : undefined;
    const dispatcher = new BatchDispatcher({ store, connection: commands, prefix: d.prefix, attempts: d.attempts, backoffMs: d.backoffMs, logger, tracing });
    const control = new ControlBus(commands, subscriber, d.prefix, logger);
    await control.start();
    return {
      commands,
      store,
      dispatcher,
      control,
      close: () =>
        runCloseSteps(logger, [
          ['batch queue', () => dispatcher.close()],
          ['connections', closeAll],
        ]),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** A gateway's id in the cluster: where its web-chat replies are addressed. */
export function newGatewayId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** What a gateway adds to its cluster. */
export interface GatewayClusterOptions extends ClusterOptions {
  /**
   * Shows the typing indicator in a channel (the adapter's `typing`): a worker's `ctx.typing()` reaches the
   * gateway that sends that channel's replies through the control channel.
   */
  onTyping?: (channelKey: string) => void | Promise<void>;
}

export interface GatewayCluster {
  queue: DistributedQueue;
  relay: ReplyRelay;
  connection: ClusterConnection;
  close(): Promise<void>;
}

/** Builds a gateway's distributed engine and its reply relay (started by the caller). */
export async function createGatewayCluster(
  config: GatewayConfig,
  logger: Logger,
  deliver: (reply: OutboundMessage) => Promise<void>,
  settled?: () => Promise<unknown>,
  options: GatewayClusterOptions = {},
): Promise<GatewayCluster> {
  let queue: DistributedQueue | undefined;
  const connection = await connectCluster(config, logger, (event) => queue?.emit(event), options);
  const d = config.distributed;
  const gatewayId = newGatewayId();
  const flusher = new Flusher({
    store: connection.store,
    pollMs: d.pollMs,
    logger: logger.child({ component: 'flusher' }),
    onSealed: (sealed) => queue?.onSealed(sealed),
  });
  queue = new DistributedQueue({
    store: connection.store,
    dispatcher: connection.dispatcher,
    flusher,
    control: connection.control,
    gatewayId,
    redisReady: () => connection.commands.status === 'ready',
    keepRaw: d.keepRaw,
    reconcileMs: d.reconcileMs,
    reconcileBatch: d.reconcileBatch,
    maxConcurrentBatches: config.batching.maxConcurrentBatches,
    logger: logger.child({ component: 'queue', gatewayId }),
  });
  const relay = new ReplyRelay({
    blocking: connectRedis(config.redis.url, 'blocking', logger),
    commands: connection.commands,
    keys: new KeyLayout(d.prefix, d.shards),
    gatewayId,
    deliver,
    ...(settled ? { settled } : {}),
    logger: logger.child({ component: 'reply-relay' }),
  });
  const offTyping = followTyping(connection.control, relay, options.onTyping, logger);
  return {
    queue,
    relay,
    connection,
    close: () =>
      runCloseSteps(logger, [
        ['typing', offTyping],
        ['queue', () => queue?.close()],
        ['reply relay', () => relay.stop()],
        ['redis', () => connection.close()],
      ]),
  };
}

/** Turns workers' typing requests into this gateway's adapter calls, for the channels it answers. */
function followTyping(control: ControlBus, relay: ReplyRelay, onTyping: GatewayClusterOptions['onTyping'], logger: Logger): () => void {
  if (onTyping === undefined) return () => undefined;
  return control.on((msg) => {
    if (msg.type !== 'typing' || !relay.actsFor(msg.gatewayId)) return;
    Promise.resolve()
      .then(() => onTyping(msg.channelKey))
      .catch((err: unknown) => logger.debug({ err, channelKey: msg.channelKey }, 'typing request from a worker failed; replies are unaffected'));
  });
}
