import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import type { OutboundMessage } from '../../src/core/model.js';
import { shorten } from '../../src/core/shorten.js';
import { backoffDelayMs, sleep } from '../../src/delivery/backoff.js';
import { signatureHeaders } from '../../src/delivery/signature.js';

export interface ReplySenderOptions {
  /** Where replies are POSTed; empty: replies are only logged (and counted as skipped). */
  replyUrl: string;
  /** Signs each body when non-empty. */
  secret: string;
  /** Tries per reply, the first included. @defaultValue 6 */
  attempts: number;
  /** Ceiling of the first retry delay (full jitter, doubling per retry). @defaultValue 250 */
  backoffMs: number;
  /** Cap on the retry delay ceiling. @defaultValue 5000 */
  backoffMaxMs: number;
  /** Bound on one POST once it has a connection: the answer's headers, and then each gap in its body, within this long. @defaultValue 10000 */
  timeoutMs: number;
  /** How long `close()` waits for deliveries still retrying before it abandons them. @defaultValue 10000 */
  closeTimeoutMs: number;
  /**
   * Keep-alive connections to the receiver at most; more replies at once wait for a free one.
   * @defaultValue 16
   */
  connections?: number;
}

/** Counters for metrics and tests. */
export interface ReplyStats {
  /** Replies the receiver accepted (2xx). */
  delivered: number;
  /** Replies given up on: the budget ran out, the receiver refused them (4xx), or the sender closed. */
  failed: number;
  /** Extra tries after a failed one. */
  retries: number;
  /** Replies not sent because no `replyUrl` is configured. */
  skipped: number;
  /** Replies given up on because their batch was cancelled while they waited or retried. */
  cancelled: number;
}

type Outcome = { ok: true } | { ok: false; retryable: boolean; problem: string };

const OK: Outcome = { ok: true };
const CLOSED: Outcome = { ok: false, retryable: false, problem: 'adapter closed' };

/**
 * POSTs webhook replies to `replyUrl`, retrying with backoff, strictly in order per channel: each channel
 * has its own promise chain, so a reply that is retrying holds back the later replies of its channel and
 * of no other.
 *
 * The POSTs go through one undici `Pool` to the receiver's origin: keep-alive connections, at most
 * `connections` of them, and an O(1) FIFO for replies waiting for one. With a channel per conversation,
 * thousands of channels may each have a reply ready at once; a socket per reply made the sender spend its
 * time in TCP connects. Not `fetch` (WHATWG streams and two `AbortSignal`s per request: half of the
 * gateway's CPU at 4,500 replies/s, profiled) and not `node:http` (about twice undici's CPU per POST, measured).
 * Timeouts are the pool's per-socket `headersTimeout`/`bodyTimeout`, which start once a reply is on a
 * connection, so waiting for a free one never times a reply out.
 */
export class ReplySender {
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly stopper = new AbortController();
  private readonly counters: ReplyStats = { delivered: 0, failed: 0, retries: 0, skipped: 0, cancelled: 0 };
  private readonly pool: Pool | undefined;
  private readonly path: string;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ReplySenderOptions,
    private readonly logger: Logger,
  ) {
    const url = options.replyUrl ? new URL(options.replyUrl) : undefined;
    this.path = url ? url.pathname + url.search : '/';
    this.pool = url
      ? new Pool(url.origin, {
          connections: options.connections ?? 16,
          pipelining: 1,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
        })
      : undefined;
  }

  stats(): ReplyStats {
    return { ...this.counters };
  }

  /**
   * Resolves true once delivered (or when there is no replyUrl), false once given up on (logged and
   * counted); never rejects. Once `signal` aborts (the batch was cancelled) no further try is made: a
   * reply waiting behind its channel's earlier ones or in retry backoff is given up on.
   */
  send(reply: OutboundMessage, signal?: AbortSignal): Promise<boolean> {
    if (!this.pool) {
      this.counters.skipped++;
      // Printed at the default level: with no replyUrl this line is the only place a reply shows up (the
      // README's curl quick start relies on it).
      this.logger.info(
        { channelKey: `webhook:${reply.channelId}`, batchId: reply.batchId, batchSize: reply.inReplyTo.length, text: shorten(reply.text, 200) },
        'webhook reply (no replyUrl: printed, not sent)',
      );
      return Promise.resolve(true);
    }
    if (this.closing) {
      this.counters.failed++;
      this.logger.warn({ channelId: reply.channelId, batchId: reply.batchId }, 'webhook reply dropped: adapter closed');
      return Promise.resolve(false);
    }
    const key = reply.channelId;
    const previous = this.chains.get(key);
    // The common case is a channel with nothing in flight: start at once, no extra promise hop.
    const delivery = previous ? previous.then(() => this.deliver(reply, signal)) : this.deliver(reply, signal);
    const next: Promise<boolean> = delivery.then((ok) => {
      // Forget settled chains so a channel that went quiet holds no memory.
      if (this.chains.get(key) === next) this.chains.delete(key);
      return ok;
    });
    this.chains.set(key, next);
    return next;
  }

  /** Waits for queued deliveries up to `closeTimeoutMs`, then aborts the rest (counted as failed). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const pending = Promise.all(this.chains.values());
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.closeTimeoutMs);
        timer.unref();
      });
      await Promise.race([pending, bound]);
      clearTimeout(timer);
      const closed = new Error('webhook adapter closed');
      this.stopper.abort(closed);
      // Fails the POSTs on the wire and those waiting for a connection; their deliveries see the stopper and give up.
      const pool = this.pool?.destroy(closed);
      await pending;
      await pool;
    })();
    return this.closing;
  }

  /** True once delivered; false when the budget ran out or the adapter closed (logged and counted). */
  private async deliver(reply: OutboundMessage, cancel?: AbortSignal): Promise<boolean> {
    const { attempts, backoffMs, backoffMaxMs, secret } = this.options;
    const stop = cancel ? AbortSignal.any([this.stopper.signal, cancel]) : this.stopper.signal;
    const payload: Record<string, unknown> = { channelId: reply.channelId, text: reply.text, batchId: reply.batchId, inReplyTo: reply.inReplyTo };
    if (reply.replyTo !== undefined) payload.replyTo = reply.replyTo;
    if (reply.extra !== undefined) payload.extra = reply.extra;
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      // Constant across retries: a receiver that saw a try whose answer got lost can drop the repeat.
      'x-batchgate-delivery': randomUUID(),
    };

    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (stop.aborted) break;
      // Signed at each try: a retry after a long backoff must still be inside the receiver's tolerance.
      const outcome = await this.post(body, secret ? { ...headers, ...signatureHeaders(secret, body) } : headers);
      if (outcome.ok) {
        this.counters.delivered++;
        if (attempt > 1) this.logger.info({ channelId: reply.channelId, batchId: reply.batchId, attempt }, 'webhook reply delivered after retry');
        return true;
      }
      lastProblem = outcome.problem;
      if (!outcome.retryable || attempt === attempts || stop.aborted) break;
      this.counters.retries++;
      const delayMs = backoffDelayMs(attempt, backoffMs, backoffMaxMs);
      this.logger.debug({ channelId: reply.channelId, batchId: reply.batchId, attempt, delayMs, problem: outcome.problem }, 'webhook reply failed; retrying');
      try {
        await sleep(delayMs, stop);
      } catch {
        break;
      }
    }
    if (cancel?.aborted && !this.stopper.signal.aborted) {
      this.counters.cancelled++;
      this.logger.info({ channelId: reply.channelId, batchId: reply.batchId }, 'webhook reply not sent: its batch was cancelled');
      return false;
    }
    this.counters.failed++;
    this.logger.error({ channelId: reply.channelId, batchId: reply.batchId, problem: lastProblem || 'adapter closed', attempts }, 'webhook reply not delivered; giving up');
    return false;
  }

  /** One try; resolves (never rejects) once the answer was read to its end, so the connection is reused. */
  private post(body: string, headers: Record<string, string>): Promise<Outcome> {
    if (this.stopper.signal.aborted) return Promise.resolve(CLOSED);
    return new Promise<Outcome>((resolve) => {
      try {
        this.pool!.dispatch({ path: this.path, method: 'POST', headers, body }, new Attempt(resolve));
      } catch (err) {
        resolve({ ok: false, retryable: true, problem: problemOf(err) });
      }
    });
  }
}

/** Longest answer body read (and thrown away) before the connection is cut; receivers answer with a few bytes. */
const MAX_ANSWER_BYTES = 65_536;

/**
 * The handler of one POST: keeps the status, discards the body. `dispatch` with this object instead of
 * `request()` saves a response stream and a promise per reply (about 8 % of the POST's CPU, measured).
 */
class Attempt implements Dispatcher.DispatchHandler {
  private status = 0;
  private bytes = 0;

  constructor(private readonly resolve: (outcome: Outcome) => void) {}

  /** Its presence tells undici this handler speaks the v7 hooks (without it, the deprecated ones are called). */
  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > MAX_ANSWER_BYTES) controller.abort(new Error(`replyUrl answer longer than ${MAX_ANSWER_BYTES} bytes`));
  }

  onResponseEnd(): void {
    this.resolve(answer(this.status));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // Once the status is in, it is the answer: a 2xx whose body was cut short was still taken.
    this.resolve(this.status >= 200 ? answer(this.status) : { ok: false, retryable: true, problem: problemOf(err) });
  }
}

function answer(status: number): Outcome {
  if (status >= 200 && status < 300) return OK;
  // 408 and 429 say "later"; any other 4xx (and a redirect, which is not followed) says the receiver will never take this body.
  const retryable = status >= 500 || status === 408 || status === 429;
  return { ok: false, retryable, problem: `replyUrl answered ${status}` };
}

function problemOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message;
}
