import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { redactUrl } from '../config/redact.js';

export type ConnectionRole = 'commands' | 'blocking' | 'subscriber';

/**
 * One ioredis client for a role. `commands` fails a command after one retry and a 2 s timeout, so an
 * inbound message is refused with 503 while Redis is away instead of waiting forever, and never resends
 * a command whose answer a dropped connection lost (Redis may have run it: a resent reply XADD would
 * post a reply twice; the caller's error path decides instead); `blocking` and
 * `subscriber` (BullMQ workers, XREAD, pub/sub) wait for Redis as long as it takes, as BullMQ requires.
 */
export function connectRedis(url: string, role: ConnectionRole, logger: Logger): Redis {
  const common: RedisOptions = {
    lazyConnect: false,
    // Reconnect forever, backing off to 2 s: a restarted Redis is picked up without operator help.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    connectionName: `batchgate-${role}`,
  };
  const options: RedisOptions =
    role === 'commands'
      ? { ...common, maxRetriesPerRequest: 1, commandTimeout: 2_000, enableOfflineQueue: true, autoResendUnfulfilledCommands: false }
      : { ...common, maxRetriesPerRequest: null };
  const client = new Redis(url, options);
  let wasReady = false;
  client.on('ready', () => {
    if (wasReady) logger.info({ role }, 'redis reconnected');
    wasReady = true;
  });
  client.on('error', (err: Error) => logger.warn({ role, err: err.message }, 'redis connection error'));
  return client;
}

/** Resolves once the client is ready, or rejects after `timeoutMs` with a clear message. */
export async function whenReady(client: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`cannot reach Redis at ${redactUrl(url)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
