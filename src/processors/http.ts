import { z } from 'zod';
import { ErrorCode, GatewayError } from '../errors.js';
import { messageToJSON, type MessageBatch } from '../core/model.js';
import { toFieldIssues } from '../core/policy.js';
import { backoffDelayMs, sleep } from '../delivery/backoff.js';
import { signatureHeaders } from '../delivery/signature.js';
import { injectActiveTrace } from '../telemetry/hooks.js';
import type { ProcessContext, Processor } from './processor.js';
import type { SteerTokens } from './steer-tokens.js';

/** Options of {@link createHttpProcessor}; `url`, `timeoutMs`, `secret`, `attempts` come from `processor` in the config. */
export interface HttpProcessorOptions {
  /** Where each batch is POSTed. */
  url: string;
  /** Bound on one request, response body included. */
  timeoutMs: number;
  /** Signs each request (`X-Batchgate-Timestamp` + `X-Batchgate-Signature`, v1) when non-empty. @defaultValue '' */
  secret?: string;
  /** Tries per batch for 5xx answers, network errors and timeouts; 4xx is never retried. @defaultValue 1 */
  attempts?: number;
  /** First retry delay ceiling (full jitter, doubling per retry). @defaultValue 250 */
  backoffMs?: number;
  /** Cap on the retry delay ceiling. @defaultValue 5000 */
  backoffMaxMs?: number;
  /** Largest response body read; a bigger one fails the batch instead of filling memory. @defaultValue 1048576 */
  maxResponseBytes?: number;
  /**
   * Steer mode: where this process serves `POST /v1/steer` (a getter: the address is known once it
   * listens) and its tokens. Set, a batch of a steer-mode channel is sent with `steerUrl` and `steerToken`.
   */
  steer?: HttpSteer;
}

/** What the HTTP processor needs to offer steering to a bot. */
export interface HttpSteer {
  url: () => string;
  tokens: SteerTokens;
}

/** What the bot answers: every reply is published in order. */
const responseSchema = z.object({
  replies: z.array(
    z.object({
      text: z.string().min(1, 'a reply needs non-empty text'),
      threadId: z.string().optional(),
      replyTo: z.string().optional(),
      extra: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});

/** Longest slice of an error response body kept for the log. */
const BODY_SNIPPET_CHARS = 200;

/** The request body of the HTTP processor contract (docs/writing-a-processor.md). */
export function httpProcessorRequestBody(batch: MessageBatch, attempt: number, steer?: { steerUrl: string; steerToken: string }): string {
  return JSON.stringify({
    batch: {
      id: batch.id,
      channelKey: batch.channelKey,
      platform: batch.platform,
      channelId: batch.channelId,
      flushReason: batch.flushReason,
      firstAt: batch.firstAt,
      lastAt: batch.lastAt,
      messages: batch.messages.map(messageToJSON),
    },
    attempt,
    ...steer,
  });
}

/** Failure of one try: whether another try may help, and the error to throw if none is left. */
interface TryFailure {
  retryable: boolean;
  error: GatewayError;
}

/**
 * A processor that hands each batch to a bot over HTTP: `POST {url}` with `{ batch, attempt }`, answered
 * by `{ replies: [{ text }] }` (or 204). The batch's signal aborts the request, so cancel and interrupt
 * reach the bot as a closed connection instead of a reply that would be dropped anyway.
 */
export function createHttpProcessor(options: HttpProcessorOptions): Processor {
  const attempts = Math.max(1, Math.floor(options.attempts ?? 1));
  const backoffMs = options.backoffMs ?? 250;
  const backoffMaxMs = options.backoffMaxMs ?? 5_000;
  const secret = options.secret ?? '';
  const maxResponseBytes = options.maxResponseBytes ?? 1_048_576;
  // Query strings often carry tokens; logs and errors name the endpoint without them.
  const where = safeUrl(options.url);

  return async function httpProcessor(batch: MessageBatch, ctx: ProcessContext): Promise<void> {
    const steer = options.steer;
    if (steer === undefined || ctx.channel.settings.mode !== 'steer' || ctx.steered === undefined) return send(batch, ctx);
    // Valid from this request until the processor returns: a bot holding it later is told it expired.
    const grant = steer.tokens.issue(ctx);
    try {
      await send(batch, ctx, { steerUrl: steer.url(), steerToken: grant.token });
    } finally {
      grant.revoke();
    }
  };

  async function send(batch: MessageBatch, ctx: ProcessContext, steer?: { steerUrl: string; steerToken: string }): Promise<void> {
    const body = httpProcessorRequestBody(batch, ctx.attempt, steer);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-batchgate-batch-id': batch.id,
    };
    // With tracing on, the bot's spans join the batch's trace (W3C `traceparent` of the processing span).
    injectActiveTrace(headers);

    for (let tryNo = 1; ; tryNo++) {
      // Signed at each try: a retry after a timeout and a backoff must still be inside the bot's tolerance.
      const signed = secret ? signatureHeaders(secret, body) : {};
      const result = await tryOnce(body, { ...headers, ...signed, 'x-batchgate-delivery-attempt': String(tryNo) }, ctx, tryNo);
      if (!('retryable' in result)) {
        for (const reply of result.replies) {
          // A reply after abort would be dropped by ctx.reply anyway; stop publishing the rest at once.
          if (ctx.signal.aborted) throw cancelled(ctx, where);
          await ctx.reply(reply);
        }
        return;
      }
      if (!result.retryable || tryNo >= attempts) throw result.error;
      const delayMs = backoffDelayMs(tryNo, backoffMs, backoffMaxMs);
      ctx.logger.warn({ err: result.error, url: where, attempt: tryNo, attempts, delayMs }, 'http processor failed; retrying');
      try {
        await sleep(delayMs, ctx.signal);
      } catch {
        throw cancelled(ctx, where);
      }
    }
  }

  async function tryOnce(
    body: string,
    headers: Record<string, string>,
    ctx: ProcessContext,
    tryNo: number,
  ): Promise<{ replies: z.output<typeof responseSchema>['replies'] } | TryFailure> {
    const details = { url: where, attempt: tryNo, attempts };
    let text: string;
    let status: number;
    try {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(options.timeoutMs)]);
      const res = await fetch(options.url, { method: 'POST', headers, body, signal });
      status = res.status;
      // Reading the body is under the same signal, so a bot that stalls mid-body still times out.
      const read = await readCapped(res, maxResponseBytes);
      if (read === undefined) {
        return badBody(status, `response is larger than ${maxResponseBytes} bytes`, details);
      }
      text = read;
    } catch (err) {
      if (ctx.signal.aborted) throw cancelled(ctx, where);
      if (isTimeout(err)) {
        return {
          retryable: true,
          error: new GatewayError(ErrorCode.ProcessorTimeout, `http processor ${where} did not answer within ${options.timeoutMs} ms`, {
            cause: err,
            details: { ...details, status: null, timeoutMs: options.timeoutMs },
          }),
        };
      }
      return {
        retryable: true,
        error: new GatewayError(ErrorCode.Processor, `http processor ${where} unreachable: ${describe(err)}`, {
          cause: err,
          details: { ...details, status: null },
        }),
      };
    }

    if (status < 200 || status >= 300) {
      const snippet = text.slice(0, BODY_SNIPPET_CHARS);
      return {
        retryable: status >= 500,
        error: new GatewayError(ErrorCode.Processor, `http processor ${where} answered ${status}${snippet ? `: ${snippet}` : ''}`, {
          details: { ...details, status, reason: `status ${status}` },
        }),
      };
    }
    // 204, or a 2xx with nothing in it: the bot chose not to answer this batch.
    if (status === 204 || text.trim() === '') return { replies: [] };

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return badBody(status, 'response is not JSON', details, err);
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) {
      const reason = toFieldIssues(parsed.error)
        .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
        .join('; ');
      return badBody(status, `response must be { replies: [{ text }] } (${reason})`, details);
    }
    return { replies: parsed.data.replies };
  }
}

/** The body as text, or undefined (and the stream cancelled) once it passes `maxBytes`. */
async function readCapped(res: Response, maxBytes: number): Promise<string | undefined> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function badBody(status: number, reason: string, details: Record<string, unknown>, cause?: unknown): TryFailure {
  // A bot that answers garbage will answer the same garbage again: not worth a retry.
  return {
    retryable: false,
    error: new GatewayError(ErrorCode.Processor, `http processor ${String(details['url'])} answered ${status} with a bad body: ${reason}`, {
      cause,
      details: { ...details, status, reason },
    }),
  };
}

function cancelled(ctx: ProcessContext, where: string): GatewayError {
  return new GatewayError(ErrorCode.Cancelled, `batch aborted during http processor call to ${where}`, {
    cause: ctx.signal.reason,
    details: { url: where },
  });
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

function describe(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  const base = err instanceof Error ? err.message : String(err);
  return cause ? `${base} (${cause.message})` : base;
}

function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
