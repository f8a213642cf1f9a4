import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
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
  /** Bound on one POST. @defaultValue 10000 */
  timeoutMs: number;
  /** How long `close()` waits for deliveries still retrying before it abandons them. @defaultValue 10000 */
  closeTimeoutMs: number;
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

/**
 * POSTs webhook replies to `replyUrl`, retrying with backoff, strictly in order per channel: each channel
 * has its own promise chain, so a reply that is retrying holds back the later replies of its channel and
 * of no other.
 */
export class ReplySender {
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly stopper = new AbortController();
  private readonly counters: ReplyStats = { delivered: 0, failed: 0, retries: 0, skipped: 0 };
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ReplySenderOptions,
    private readonly logger: Logger,
  ) {}

  stats(): ReplyStats {
    return { ...this.counters };
  }

  /** Resolves true once delivered (or when there is no replyUrl), false once given up on (logged and counted); never rejects. */
  send(reply: OutboundMessage): Promise<boolean> {
    if (!this.options.replyUrl) {
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
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.deliver(reply));
    this.chains.set(key, next);
    // Forget settled chains so a channel that went quiet holds no memory.
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
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
      await pending;
    })();
    return this.closing;
  }

  /** True once delivered; false when the budget ran out or the adapter closed (logged and counted). */
  private async deliver(reply: OutboundMessage): Promise<boolean> {
    const { attempts, backoffMs, backoffMaxMs } = this.options;
    const body = JSON.stringify({ channelId: reply.channelId, text: reply.text, batchId: reply.batchId, inReplyTo: reply.inReplyTo });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      // Constant across retries: a receiver that saw a try whose answer got lost can drop the repeat.
      'x-batchgate-delivery': randomUUID(),
    };
    if (this.options.secret) headers[SIGNATURE_HEADER] = signBody(this.options.secret, body);
    const log = this.logger.child({ channelId: reply.channelId, batchId: reply.batchId });

    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.stopper.signal.aborted) break;
      const outcome = await this.post(body, headers);
      if (outcome.ok) {
        this.counters.delivered++;
        if (attempt > 1) log.info({ attempt }, 'webhook reply delivered after retry');
        return true;
      }
      lastProblem = outcome.problem;
      if (!outcome.retryable) break;
      if (attempt === attempts) break;
      this.counters.retries++;
      const delayMs = backoffDelayMs(attempt, backoffMs, backoffMaxMs);
      log.debug({ attempt, delayMs, problem: outcome.problem }, 'webhook reply failed; retrying');
      try {
        await sleep(delayMs, this.stopper.signal);
      } catch {
        break;
      }
    }
    this.counters.failed++;
    log.error({ problem: lastProblem || 'adapter closed', attempts }, 'webhook reply not delivered; giving up');
    return false;
  }

  private async post(body: string, headers: Record<string, string>): Promise<{ ok: true } | { ok: false; retryable: boolean; problem: string }> {
    try {
      const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.options.timeoutMs)]);
      const res = await fetch(this.options.replyUrl, { method: 'POST', headers, body, signal });
      // Drain so the keep-alive connection is reused by the next reply.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true };
      // 408 and 429 say "later"; any other 4xx says the receiver will never take this body.
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      return { ok: false, retryable, problem: `replyUrl answered ${res.status}` };
    } catch (err) {
      const message = err instanceof Error ? (err.cause instanceof Error ? `${err.message} (${err.cause.message})` : err.message) : String(err);
      return { ok: false, retryable: true, problem: message };
    }
  }
}
