import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { onTestFinished } from 'vitest';
import type { AcceptResult, InboundMessage } from '../../../adapters/adapter.js';
import { WebhookAdapter, type WebhookAdapterOptions } from '../../../adapters/webhook/index.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { silentLogger } from '../../../src/logger.js';

export type AcceptFn = (msg: InboundMessage) => Promise<AcceptResult>;

/** Accepts everything, the way the gateway answers when the queue takes a message. */
export const acceptAll: AcceptFn = async (msg) => ({ accepted: true, channelKey: `webhook:${msg.channelId}`, id: msg.id, pending: 1, typing: true });

export interface WebhookHarness {
  adapter: WebhookAdapter;
  app: FastifyInstance;
  /** Base URL of the real server, e.g. `http://127.0.0.1:41234`. */
  base: string;
  /** Every message handed to `accept`, in order. */
  accepted: InboundMessage[];
  /** Replaces what `accept` answers (messages are still recorded). */
  setAccept(fn: AcceptFn): void;
  /** Aborts the gateway shutdown signal the adapter got in `start`. */
  shutdown: AbortController;
}

/**
 * The adapter on one real fastify server, as the gateway wires it: `routes(app)` before listen, then
 * `start({ accept, logger, signal })`. A second route with fastify's own JSON parser shares the server so
 * tests can check nothing leaks into it.
 */
export async function startWebhook(
  options: WebhookAdapterOptions = {},
  { listen = true, logger = silentLogger() }: { listen?: boolean; logger?: Logger } = {},
): Promise<WebhookHarness> {
  const app = Fastify({ logger: false });
  const adapter = new WebhookAdapter(options);
  onTestFinished(async () => {
    await adapter.close();
    await app.close();
  });
  adapter.routes(app);
  app.post('/other', async (req) => ({ got: req.body }));
  let accept: AcceptFn = acceptAll;
  const accepted: InboundMessage[] = [];
  const shutdown = new AbortController();
  if (listen) await app.listen({ port: 0, host: '127.0.0.1' });
  else await app.ready();
  await adapter.start({
    accept: (msg) => {
      accepted.push(msg);
      return accept(msg);
    },
    logger,
    signal: shutdown.signal,
  });
  const address = app.server.address() as AddressInfo | null;
  return {
    adapter,
    app,
    base: address ? `http://127.0.0.1:${address.port}` : 'http://localhost',
    accepted,
    setAccept: (fn) => {
      accept = fn;
    },
    shutdown,
  };
}

/** POSTs a body (object → JSON) to `/v1/messages` and returns status and parsed answer. */
export async function postMessage(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

let batchSeq = 0;
/** A reply the way the gateway hands it to `send`. */
export function outbound(channelId: string, text: string): OutboundMessage {
  batchSeq++;
  return { platform: 'webhook', channelId, text, batchId: `b${batchSeq}`, inReplyTo: [`m${batchSeq}a`, `m${batchSeq}b`] };
}
