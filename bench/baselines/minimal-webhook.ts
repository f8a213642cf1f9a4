/**
 * The least a webhook batching gateway on fastify can do, used to bound what S5 can show (the counterpart of
 * the minimal engine in S1/S2). Per message it keeps the duties the issue names and nothing else:
 * - `POST /v1/messages` read and parsed by fastify's own JSON parser, the fields checked, a duplicate id
 *   turned away (a bounded Set), 202 with the id;
 * - batching by the minimal engine (one deadline heap and one timer, the 500 ms window, the size cap, one
 *   batch in flight per channel);
 * - a processor that waits 5 ms and then POSTs one reply per batch (`inReplyTo` in order) to the receiver
 *   over a keep-alive undici Pool, awaited, so a channel's replies stay in order.
 * No admin API, metrics, logging, signatures, retries, body limit checks, spool or shutdown drain: it is not
 * a usable gateway. If even this does not reach a goal on this host, no gateway with these duties will.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import { MinimalEngine, type MinimalBatch } from './minimal-engine.js';

export interface MinimalWebhookOptions {
  windowMs: number;
  maxBatchSize: number;
  /** The processor's own time per batch, before its reply. */
  processorMs: number;
  /** Where each batch's reply is POSTed. */
  replyUrl: string;
}

export interface MinimalWebhook {
  url: string;
  /** Idempotent. */
  close(): Promise<void>;
}

/** Ids remembered for duplicate checks; the oldest is forgotten first past this many. */
const MAX_IDS = 100_000;

export async function startMinimalWebhook(options: MinimalWebhookOptions): Promise<MinimalWebhook> {
  const reply = new URL(options.replyUrl);
  const pool = new Pool(reply.origin, { connections: 16, pipelining: 1 });
  const postReply = (batch: MinimalBatch): Promise<void> =>
    new Promise((resolve) => {
      const inReplyTo = batch.messages.map((m) => m.id);
      const body = JSON.stringify({ channelId: batch.messages[0]!.channelId, text: `${inReplyTo.length} message(s) read`, inReplyTo });
      pool.dispatch({ path: reply.pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body }, new DiscardAnswer(resolve));
    });
  const engine = new MinimalEngine({
    windowMs: options.windowMs,
    maxBatchSize: options.maxBatchSize,
    processor: async (batch) => {
      await sleep(options.processorMs);
      await postReply(batch);
    },
  });

  const seen = new Set<string>();
  const app: FastifyInstance = Fastify({ logger: false });
  app.post('/v1/messages', async (req, res) => {
    const body = req.body as { id?: unknown; channelId?: unknown; userId?: unknown; text?: unknown } | null;
    if (body === null || typeof body !== 'object' || typeof body.channelId !== 'string' || body.channelId === '' || typeof body.text !== 'string' || typeof body.id !== 'string') {
      return res.code(400).send({ error: 'bad message' });
    }
    if (seen.has(body.id)) return res.code(200).send({ accepted: false, reason: 'duplicate' });
    seen.add(body.id);
    // A Set iterates in insertion order: its first entry is the oldest id.
    if (seen.size > MAX_IDS) seen.delete(seen.values().next().value!);
    await engine.enqueue({ id: body.id, platform: 'webhook', channelId: body.channelId, userId: typeof body.userId === 'string' ? body.userId : '', text: body.text });
    return res.code(202).send({ accepted: true, id: body.id });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      (closing ??= (async () => {
        engine.close();
        await app.close();
        await pool.close();
      })()),
  };
}

/** Resolves once the receiver's answer was read to its end (any status: the receiver always says 200). */
class DiscardAnswer implements Dispatcher.DispatchHandler {
  constructor(private readonly done: () => void) {}
  onRequestStart(): void {}
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {
    this.done();
  }
  onResponseError(): void {
    this.done();
  }
}
