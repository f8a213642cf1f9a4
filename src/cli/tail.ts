import type { QueueEvent } from '../core/events.js';
import type { AdminConnection } from './admin-client.js';

/** How `batchgate tail` ended: 0 stopped by the user (Ctrl+C, closed pipe), 1 refused, 2 gateway gone. */
export type TailExit = 0 | 1 | 2;

export interface TailOptions {
  /** Only this channel's events (`platform:channelId`). */
  key?: string;
  /** One JSON object per line (the event as the server sent it) instead of a readable line. */
  json: boolean;
  /** Ends the stream (exit 0): Ctrl+C, or stdout closed. */
  signal: AbortSignal;
  /** Where event lines go. Returns false once the reader has gone (a closed pipe). */
  write: (line: string) => boolean;
  /** Where status and errors go (stderr), so a pipe of event lines stays clean. */
  warn: (line: string) => void;
  /**
   * The server sends a comment every 15 s; this long without a byte means the gateway (or the path to
   * it) is gone even if no TCP reset came. @defaultValue 45000
   */
  idleTimeoutMs?: number;
}

const ms = (x: number): string => (x >= 1_000 ? `${(x / 1_000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The readable part of one event, after time, type and channel: the same facts as the dashboard's events panel. */
function details(e: QueueEvent): string {
  switch (e.type) {
    case 'batch.flushed':
      return `${plural(e.size, 'msg')} · ${e.reason}${e.reason === 'window' || e.reason === 'maxWait' ? ` · +${ms(e.latenessMs)} late` : ''}`;
    case 'batch.started':
      return `${plural(e.size, 'msg')} · waited ${ms(e.waitMs)}`;
    case 'batch.completed':
      return `${plural(e.size, 'msg')} · ${ms(e.durationMs)} · ${plural(e.replies, 'reply', 'replies')}`;
    case 'batch.cancelled':
      return `${plural(e.size, 'msg')} · ${e.reason} after ${ms(e.durationMs)}`;
    case 'batch.failed':
      return `${plural(e.size, 'msg')} · ${e.timeout ? 'timed out' : 'error'}: ${e.error}`;
    case 'batch.interrupted':
      return `${plural(e.size, 'msg')} · a new message interrupted it`;
    case 'message.dropped':
      return `${plural(e.count, 'msg')} · ${e.reason}`;
    case 'queue.cleared':
      return `${e.removed} removed`;
    case 'queue.over-warn':
    case 'queue.under-warn':
      return `${e.queuedBatches}/${e.limit} batches queued`;
    case 'message.appended':
      return e.opened ? `${e.messageId} · opened a batch` : e.messageId;
    case 'channel.paused':
      return e.cancelled ? 'cancelled the batch in flight' : '';
    case 'reply.dropped':
      return `batch ${e.batchId}: reply after cancel, not sent`;
    default:
      return '';
  }
}

/** One line for people: `14:02:11.532  batch.flushed    webhook:room-1  3 msgs · window · +1.2 ms late`. */
export function formatEventLine(e: QueueEvent): string {
  const time = new Date(e.at).toISOString().slice(11, 23);
  const rest = details(e);
  return `${time}  ${e.type.padEnd(16)} ${e.channelKey}${rest ? `  ${rest}` : ''}`;
}

/** Splits an SSE byte stream into `{ event, data }` blocks (blank-line separated; comments skipped). */
async function* serverSentEvents(body: ReadableStream<Uint8Array>, onBytes: () => void): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

/**
 * `batchgate tail`: follows `GET /api/v1/events` and prints each event as it happens. It does not
 * reconnect: when the gateway goes away (stream ended, connection refused or reset, no heartbeat for
 * `idleTimeoutMs`) it says why on stderr and returns 2, so a script or supervisor sees it and decides;
 * a refused call (bad token, 403) returns 1; Ctrl+C or a closed pipe returns 0.
 */
export async function runTail(conn: AdminConnection, options: TailOptions): Promise<TailExit> {
  const base = conn.url.replace(/\/+$/, '');
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const request = new AbortController();
  const stop = () => request.abort();
  options.signal.addEventListener('abort', stop, { once: true });
  let idle: NodeJS.Timeout | undefined;
  let idleExpired = false;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      idleExpired = true;
      request.abort();
    }, idleTimeoutMs);
  };
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (conn.token) headers['authorization'] = `Bearer ${conn.token}`;
  try {
    touch();
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/events`, { headers, signal: request.signal });
    } catch (err) {
      if (options.signal.aborted) return 0;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      options.warn(`batchgate: cannot reach the gateway at ${base} (${cause?.code ?? cause?.message ?? (err as Error).message}): is it running? pass --url`);
      return 2;
    }
    if (!res.ok || !res.body) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      options.warn(`batchgate: ${base}/api/v1/events answered ${res.status}${text ? `: ${text}` : ''}`);
      return 1;
    }
    options.warn(`following ${base}/api/v1/events${options.key ? ` for ${options.key}` : ''} (Ctrl+C to stop)`);
    try {
      for await (const { event, data } of serverSentEvents(res.body, touch)) {
        let parsed: QueueEvent;
        try {
          parsed = JSON.parse(data) as QueueEvent;
        } catch {
          continue; // not an event of ours; the stream carries nothing else today
        }
        if (options.key !== undefined && parsed.channelKey !== options.key) continue;
        const line = options.json ? JSON.stringify({ ...parsed, type: parsed.type ?? event }) : formatEventLine(parsed);
        if (!options.write(`${line}\n`)) return 0;
        if (options.signal.aborted) return 0;
      }
    } catch (err) {
      if (options.signal.aborted) return 0;
      const why = idleExpired ? `no data for ${idleTimeoutMs / 1_000} s` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      options.warn(`batchgate: lost the event stream from ${base} (${why})`);
      return 2;
    }
    if (options.signal.aborted) return 0;
    options.warn(`batchgate: the gateway at ${base} closed the event stream (it is shutting down or restarting)`);
    return 2;
  } finally {
    clearTimeout(idle);
    options.signal.removeEventListener('abort', stop);
  }
}
