import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { WebhookAdapter } from '../../adapters/webhook/index.js';
import { parseConfig } from '../../src/config/load.js';
import type { QueueEvent } from '../../src/core/events.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';

/** A message as the HTTP processor contract sends it (QueuedMessage without raw). */
export interface WireMessage {
  id: string;
  channelId: string;
  userId: string;
  userName: string;
  text: string;
}

export interface WireBatch {
  id: string;
  channelKey: string;
  channelId: string;
  flushReason: string;
  messages: WireMessage[];
}

/** One POST the fake bot received. */
export interface BotRequest {
  batch: WireBatch;
  attempt: number;
  headers: IncomingHttpHeaders;
  /** Resolves true when the gateway closed the connection before the bot answered (the request was aborted). */
  aborted: Promise<boolean>;
  /** Resolves once the bot's answer was written out. */
  answered: Promise<void>;
}

export type BotAnswer = { status: number; body?: unknown };

export interface FakeBot {
  /** `http://127.0.0.1:<port>/bot` */
  url: string;
  requests: BotRequest[];
  /** Resolves with the `n`-th request (1-based) once it arrived. */
  request(n: number, timeoutMs?: number): Promise<BotRequest>;
}

/** The default bot: one reply naming every text of the batch in order. */
export const answerAll = (req: BotRequest): BotAnswer => ({ status: 200, body: { replies: [{ text: `got ${req.batch.messages.map((m) => m.text).join(' | ')}` }] } });

/**
 * A bot behind the HTTP processor: a real loopback server that records each batch and answers with
 * `answer(req)`, which may hold the request open (return a promise) to let a test cancel it mid-flight.
 */
export async function startFakeBot(answer: (req: BotRequest) => BotAnswer | Promise<BotAnswer> = answerAll): Promise<FakeBot> {
  const requests: BotRequest[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch: WireBatch; attempt: number };
      let markAnswered!: () => void;
      const answered = new Promise<void>((r) => (markAnswered = r));
      const rec: BotRequest = { batch: json.batch, attempt: json.attempt, headers: req.headers, aborted: closedEarly(res), answered };
      requests.push(rec);
      for (const w of waiters) w();
      void Promise.resolve(answer(rec)).then((a) => {
        if (res.destroyed) return;
        const text = a.body === undefined ? '' : JSON.stringify(a.body);
        res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text, markAnswered);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bot`,
    requests,
    request: (n, timeoutMs = 15_000) => waitUntil(() => requests[n - 1], waiters, timeoutMs, `bot request #${n}`),
  };
}

/** True once the response closed before it was fully written: the client went away mid-request. */
function closedEarly(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => res.once('close', () => resolve(!res.writableFinished)));
}

function waitUntil<T>(get: () => T | undefined, waiters: Set<() => void>, timeoutMs: number, what: string): Promise<T> {
  const now = get();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const v = get();
      if (v === undefined) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve(v);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    waiters.add(check);
  });
}

export interface GatewayUnderTest {
  gateway: Gateway;
  /** Base URL of the gateway's HTTP server. */
  base: string;
  webhook: WebhookAdapter;
  /** Every queue event so far, in order. */
  events: QueueEvent[];
  /** Resolves with the first event (already seen or to come) that matches. */
  event(match: (e: QueueEvent) => boolean, timeoutMs?: number): Promise<QueueEvent>;
}

export interface GatewayOptions {
  processorUrl?: string;
  replyUrl?: string;
  /** Merged into `adapters.webhook`. */
  webhook?: Record<string, unknown>;
  /** Merged into `batching.defaults`. */
  defaults?: Record<string, unknown>;
  bodyLimitBytes?: number;
}

/**
 * The real gateway in-process, built from a config document the way `batchgate start` builds it: the
 * webhook adapter on the shared HTTP server, the HTTP processor (or echo) and replies POSTed to `replyUrl`.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<GatewayUnderTest> {
  const dir = await mkdtemp(path.join(tmpdir(), 'batchgate-webhook-e2e-'));
  const config = parseConfig(
    {
      http: { host: '127.0.0.1', port: 0, ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}) },
      batching: { defaults: { windowMs: 1_000, ...options.defaults } },
      processor: options.processorUrl ? { type: 'http', url: options.processorUrl, timeoutMs: 5_000 } : { type: 'echo' },
      adapters: {
        web: { enabled: false },
        webhook: { enabled: true, replyUrl: options.replyUrl ?? '', replyBackoffMs: 20, replyBackoffMaxMs: 100, ...options.webhook },
      },
      state: { spoolPath: path.join(dir, 'spool.jsonl') },
      shutdownTimeoutMs: 2_000,
    },
    {},
  );
  const gateway = createGateway({ config, logger: silentLogger() });
  onTestFinished(async () => {
    await gateway.close();
    await rm(dir, { recursive: true, force: true });
  });
  await gateway.start();
  const events: QueueEvent[] = [];
  const waiters = new Set<() => void>();
  gateway.queue.on((e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  const webhook = gateway.adapters.find((a) => a.platform === 'webhook') as WebhookAdapter;
  return {
    gateway,
    base: gateway.url,
    webhook,
    events,
    event: (match, timeoutMs = 15_000) => waitUntil(() => events.find(match), waiters, timeoutMs, 'a queue event'),
  };
}

/** POSTs to the gateway's `/v1/messages` and returns status and parsed answer. */
export async function post(base: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text so the assertion shows it
  }
  return { status: res.status, body: parsed };
}
