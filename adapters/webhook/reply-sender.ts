import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { Fifo } from '../../src/bus/fifo.js';
import type { OutboundMessage } from '../../src/core/model.js';
import { backoffDelayMs, sleep } from '../../src/processors/backoff.js';
import { SIGNATURE_HEADER, signBody } from '../../src/processors/signature.js';

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
  /** Bound on one POST once it has a connection: no byte from the receiver for this long fails the try. @defaultValue 10000 */
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
}

type Outcome = { ok: true } | { ok: false; retryable: boolean; problem: string };

const OK: Outcome = { ok: true };
const CUT_SHORT: Outcome = { ok: false, retryable: true, problem: 'connection closed before the answer was complete' };
const CLOSED: Outcome = { ok: false, retryable: false, problem: 'adapter closed' };
const noop = (): void => {};

/**
 * POSTs webhook replies to `replyUrl`, retrying with backoff, strictly in order per channel: each channel
 * has its own promise chain, so a reply that is retrying holds back the later replies of its channel and
 * of no other.
 *
 * The POSTs go through one keep-alive agent with a connection cap: with a channel per conversation,
 * thousands of channels may each have a reply ready at once, and a socket per reply made the sender
 * spend its time in TCP connects. `node:http` rather than `fetch` because fetch builds WHATWG streams and
 * two `AbortSignal`s per request, which profiled at a third of the gateway's CPU under reply load.
 */
export class ReplySender {
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly stopper = new AbortController();
  private readonly counters: ReplyStats = { delivered: 0, failed: 0, retries: 0, skipped: 0 };
  /** POSTs on the wire, so `close()` can cut them when its wait runs out. */
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly target: { url: URL; agent: http.Agent; request: typeof http.request } | undefined;
  private readonly connections: number;
  /** POSTs holding one of the `connections` slots. */
  private active = 0;
  /**
   * Tries waiting for a slot, oldest first. Ours rather than the agent's queue: the agent shifts a plain
   * array per freed socket (O(n) with a backlog of thousands), and a try's timeout should not start
   * before it has a connection.
   */
  private readonly waiting = new Fifo<() => void>(64);
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ReplySenderOptions,
    private readonly logger: Logger,
  ) {
    this.connections = options.connections ?? 16;
    if (options.replyUrl) {
      const url = new URL(options.replyUrl);
      const secure = url.protocol === 'https:';
      const agentOptions = { keepAlive: true, maxSockets: this.connections };
      this.target = {
        url,
        agent: secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions),
        request: secure ? https.request : http.request,
      };
    }
  }

  stats(): ReplyStats {
    return { ...this.counters };
  }

  /** Resolves true once delivered (or when there is no replyUrl), false once given up on (logged and counted); never rejects. */
  send(reply: OutboundMessage): Promise<boolean> {
    if (!this.target) {
      this.counters.skipped++;
      this.logger.debug({ channelId: reply.channelId, batchId: reply.batchId }, 'webhook reply not sent: no replyUrl configured');
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
    const delivery = previous ? previous.then(() => this.deliver(reply)) : this.deliver(reply);
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
      this.stopper.abort(new Error('webhook adapter closed'));
      for (const req of this.inFlight) req.destroy(new Error('webhook adapter closed'));
      // Tries still waiting for a slot get it in turn as these end, see the stopper and give up.
      await pending;
      this.target?.agent.destroy();
    })();
    return this.closing;
  }

  /** True once delivered; false when the budget ran out or the adapter closed (logged and counted). */
  private async deliver(reply: OutboundMessage): Promise<boolean> {
    const { attempts, backoffMs, backoffMaxMs, secret } = this.options;
    const body = JSON.stringify({ channelId: reply.channelId, text: reply.text, batchId: reply.batchId, inReplyTo: reply.inReplyTo });
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      // Constant across retries: a receiver that saw a try whose answer got lost can drop the repeat.
      'x-batchgate-delivery': randomUUID(),
    };
    if (secret) headers[SIGNATURE_HEADER] = signBody(secret, body);

    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.stopper.signal.aborted) break;
      const outcome = await this.post(body, headers);
      if (outcome.ok) {
        this.counters.delivered++;
        if (attempt > 1) this.logger.info({ channelId: reply.channelId, batchId: reply.batchId, attempt }, 'webhook reply delivered after retry');
        return true;
      }
      lastProblem = outcome.problem;
      if (!outcome.retryable || attempt === attempts || this.stopper.signal.aborted) break;
      this.counters.retries++;
      const delayMs = backoffDelayMs(attempt, backoffMs, backoffMaxMs);
      this.logger.debug({ channelId: reply.channelId, batchId: reply.batchId, attempt, delayMs, problem: outcome.problem }, 'webhook reply failed; retrying');
      try {
        await sleep(delayMs, this.stopper.signal);
      } catch {
        break;
      }
    }
    this.counters.failed++;
    this.logger.error({ channelId: reply.channelId, batchId: reply.batchId, problem: lastProblem || 'adapter closed', attempts }, 'webhook reply not delivered; giving up');
    return false;
  }

  /** One try, once a connection slot is free. Never rejects. */
  private async post(body: string, headers: Record<string, string | number>): Promise<Outcome> {
    if (this.active < this.connections) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over, see below
    try {
      if (this.stopper.signal.aborted) return CLOSED;
      return await this.request(body, headers);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Resolves (never rejects) once the answer's body was read, so its connection goes back to the pool. */
  private request(body: string, headers: Record<string, string | number>): Promise<Outcome> {
    const { url, agent, request } = this.target!;
    return new Promise<Outcome>((resolve) => {
      const req = request({
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers,
        agent,
        // The socket's own idle timer bounds the try: no timer or AbortSignal of our own per request.
        timeout: this.options.timeoutMs,
      });
      this.inFlight.add(req);
      let settled = false;
      const settle = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(req);
        resolve(outcome);
      };
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        // Read the answer to its end: only then does the agent reuse the connection for the next reply.
        // 'close' follows 'end', and also comes alone when the connection dies mid-answer.
        res.on('close', () => settle(res.complete ? answer(res.statusCode ?? 0) : CUT_SHORT));
        res.on('error', noop);
        res.resume();
      });
      req.on('timeout', () => req.destroy(new Error(`replyUrl did not answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err) => settle({ ok: false, retryable: true, problem: problemOf(err) }));
      // Catches a request closed with neither an answer nor an error; with an answer, its own 'close' decides.
      req.on('close', () => {
        if (!answered) settle(CUT_SHORT);
      });
      req.end(body);
    });
  }
}

function answer(status: number): Outcome {
  if (status >= 200 && status < 300) return OK;
  // 408 and 429 say "later"; any other 4xx (and a redirect, which is not followed) says the receiver will never take this body.
  const retryable = status >= 500 || status === 408 || status === 429;
  return { ok: false, retryable, problem: `replyUrl answered ${status}` };
}

function problemOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
