import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_SETTINGS } from '../../../src/core/policy.js';
import { MessageBatch, type QueuedMessage } from '../../../src/core/model.js';
import type { ProcessContext, ReplyInput } from '../../../src/processors/processor.js';
import { silentLogger } from '../../../src/logger.js';

export interface BotRequest {
  body: unknown;
  rawBody: string;
  headers: IncomingHttpHeaders;
}

/** A loopback bot endpoint whose answers the test writes per request; it notes requests the client aborted. */
export interface BotServer {
  url: string;
  requests: BotRequest[];
  /** How many requests the client closed before the bot answered. */
  aborted(): number;
  waitForAbort(timeoutMs?: number): Promise<void>;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBotServer(handle: (req: BotRequest, res: ServerResponse, index: number) => void): Promise<BotServer> {
  const requests: BotRequest[] = [];
  let aborted = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown = rawBody;
      try {
        body = JSON.parse(rawBody);
      } catch {
        // keep text
      }
      const rec = { body, rawBody, headers: req.headers };
      requests.push(rec);
      res.on('close', () => {
        if (!res.writableFinished) aborted++;
      });
      handle(rec, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const until = (cond: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const tick = (): void => {
        if (cond()) resolve();
        else if (Date.now() - started > timeoutMs) reject(new Error(`bot server: timed out waiting for ${what}`));
        else setTimeout(tick, 10);
      };
      tick();
    });
  return {
    url: `http://127.0.0.1:${port}/bot`,
    requests,
    aborted: () => aborted,
    waitForAbort: (timeoutMs = 10_000) => until(() => aborted > 0, 'an aborted request', timeoutMs),
    waitForRequests: (n, timeoutMs = 10_000) => until(() => requests.length >= n, `${n} requests`, timeoutMs),
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers JSON with a status. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

let seq = 0;
export function message(channelId: string, text: string, userId = 'u1', userName = 'Ann'): QueuedMessage {
  seq++;
  return { id: `m${seq}`, platform: 'webhook', channelId, userId, userName, text, queuedAt: 1_700_000_000_000 + seq, extra: {} };
}

export function batchOf(channelId: string, texts: string[]): MessageBatch {
  const batch = new MessageBatch(`webhook:${channelId}`, { messages: texts.map((t) => message(channelId, t)) });
  batch.flushReason = 'window';
  return batch;
}

/** A ProcessContext the way the queue builds one: the replies it publishes are recorded in order. */
export function contextFor(batch: MessageBatch, signal: AbortSignal = new AbortController().signal): { ctx: ProcessContext; replies: ReplyInput[] } {
  const replies: ReplyInput[] = [];
  const ctx: ProcessContext = {
    signal,
    async reply(r) {
      if (signal.aborted) return false;
      replies.push(r);
      return true;
    },
    async typing() {},
    logger: silentLogger(),
    channel: { key: batch.channelKey, platform: batch.platform, channelId: batch.channelId, settings: { ...DEFAULT_SETTINGS } },
    attempt: 1,
  };
  return { ctx, replies };
}
