import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Priority } from '../bus/index.js';
import type { AdminHost } from './host.js';

export interface EventStreamOptions {
  /** Comment line sent this often so proxies and clients see a live connection. @defaultValue 15000 */
  heartbeatMs?: number;
  /** A client whose unsent bytes pass this is dropped (it cannot keep up). @defaultValue 1048576 */
  maxBufferBytes?: number;
  /** Events queued for one client before the bus drops them for it. @defaultValue 1000 */
  queueSize?: number;
}

/** Counters of the event stream, for tests and logs. */
export interface EventStreamStats {
  clients: number;
  /** Clients disconnected because their socket buffer passed `maxBufferBytes`. */
  droppedSlow: number;
}

/**
 * `GET /api/v1/events`: every item of the bus `events` channel as a server-sent event (`event:` is the
 * queue event type, `data:` its JSON). Each client is an OPTIONAL consumer with its own bounded queue;
 * the write is synchronous, so what piles up for a slow client is the socket's buffer, and a client whose
 * buffer passes the bound is disconnected rather than allowed to grow the gateway's memory.
 */
export function registerEventStream(app: FastifyInstance, host: AdminHost, logger: Logger, options: EventStreamOptions = {}): EventStreamStats {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBufferBytes = options.maxBufferBytes ?? 1_048_576;
  const queueSize = options.queueSize ?? 1_000;
  const stats: EventStreamStats = { clients: 0, droppedSlow: 0 };
  let clientSeq = 0;

  app.get('/api/v1/events', (request, reply) => {
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx buffers responses unless told not to; events would arrive in lumps.
      'x-accel-buffering': 'no',
    });
    const client = ++clientSeq;
    const done = new AbortController();
    let eventId = 0;
    stats.clients++;

    const finish = () => {
      if (done.signal.aborted) return;
      done.abort();
      clearInterval(heartbeat);
      host.signal.removeEventListener('abort', onShutdown);
      stats.clients--;
    };
    const write = (chunk: string): void => {
      if (done.signal.aborted || res.destroyed) return;
      if (res.writableLength > maxBufferBytes) {
        stats.droppedSlow++;
        logger.warn({ client, bufferedBytes: res.writableLength, maxBufferBytes }, 'event stream client too slow: disconnected');
        finish();
        res.destroy();
        return;
      }
      res.write(chunk);
    };
    const onShutdown = () => {
      finish();
      res.end();
    };

    res.on('close', finish);
    host.signal.addEventListener('abort', onShutdown, { once: true });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
    heartbeat.unref();
    write(`retry: 2000\n: connected to batchgate events\n\n`);
    host.bus.get('events').newConsumer(
      (event) => write(`id: ${++eventId}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
      { name: `sse#${client}`, filters: { platform: '*' }, priority: Priority.OPTIONAL, signal: done.signal, queueSize, writeTimeoutMs: 0 },
    );
    if (request.socket.destroyed) finish();
  });
  return stats;
}
