import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { verifySignature } from '../../../src/delivery/signature.js';
import { WebhookAdapter } from '../../../adapters/webhook/index.js';
import { startReplySink, type RecordedRequest, type ReplySinkOptions } from '../../helpers/reply-sink.js';
import { outbound, postMessage, startWebhook } from './harness.js';

const fast = { replyBackoffMs: 5, replyBackoffMaxMs: 20, replyTimeoutMs: 5_000 };

async function sink(options: ReplySinkOptions = {}) {
  const s = await startReplySink(options);
  onTestFinished(() => s.close());
  return s;
}

const channelOf = (r: RecordedRequest): string => (r.body as { channelId: string }).channelId;
const textOf = (r: RecordedRequest): string => (r.body as { text: string }).text;

/** A URL nothing listens on: a server that bound a port and closed it. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/replies`;
}

describe('webhook replies', () => {
  it('POSTs { channelId, text, batchId, inReplyTo }, signed like inbound', async () => {
    const s = await sink();
    const h = await startWebhook({ ...fast, replyUrl: s.url, secret: 'k' });
    const reply = outbound('room-1', 'hi there');
    await h.adapter.send(reply);
    expect(s.requests).toHaveLength(1);
    const req = s.requests[0]!;
    expect(req.body).toEqual({ channelId: 'room-1', text: 'hi there', batchId: reply.batchId, inReplyTo: reply.inReplyTo });
    expect(req.headers['content-type']).toBe('application/json');
    expect(verifySignature('k', req.rawBody, { signature: req.headers['x-batchgate-signature'], timestamp: req.headers['x-batchgate-timestamp'] }).ok).toBe(true);
    expect(h.adapter.stats()).toMatchObject({ delivered: 1, failed: 0, retries: 0 });
  });

  it('500 twice then 200: delivered exactly once, still in order with the channel\'s later replies', async () => {
    const s = await sink({ statuses: [500, 500] });
    const h = await startWebhook({ ...fast, replyUrl: s.url, secret: 'k' });
    // The gateway does not wait here; the adapter alone keeps the channel's order.
    await Promise.all([h.adapter.send(outbound('room-1', 'one')), h.adapter.send(outbound('room-1', 'two')), h.adapter.send(outbound('room-1', 'three'))]);

    expect(s.requests.map((r) => [textOf(r), r.status])).toEqual([
      ['one', 500],
      ['one', 500],
      ['one', 200],
      ['two', 200],
      ['three', 200],
    ]);
    expect(s.delivered().map(textOf)).toEqual(['one', 'two', 'three']);
    // Retries resend the same bytes under one delivery id (signed anew at each try), so a receiver can dedupe.
    const tries = s.requests.slice(0, 3);
    expect(new Set(tries.map((r) => r.headers['x-batchgate-delivery'])).size).toBe(1);
    expect(new Set(tries.map((r) => r.rawBody)).size).toBe(1);
    for (const r of s.requests) expect(verifySignature('k', r.rawBody, { signature: r.headers['x-batchgate-signature'], timestamp: r.headers['x-batchgate-timestamp'] }).ok).toBe(true);
    expect(h.adapter.stats()).toMatchObject({ delivered: 3, failed: 0, retries: 2 });
  });

  it('a retrying reply holds back later replies of its own channel only', async () => {
    let releaseRetry!: () => void;
    const retryGate = new Promise<number>((resolve) => {
      releaseRetry = () => resolve(200);
    });
    let aTries = 0;
    const s = await sink({
      respond: (req) => {
        if (channelOf(req) !== 'A' || textOf(req) !== 'A1') return undefined;
        aTries++;
        // First try fails; the retry is held open until the test has seen channel B go through.
        return aTries === 1 ? 503 : retryGate;
      },
    });
    const h = await startWebhook({ ...fast, replyUrl: s.url, replyTimeoutMs: 20_000 });
    const a1 = h.adapter.send(outbound('A', 'A1'));
    const a2 = h.adapter.send(outbound('A', 'A2'));
    await s.waitFor(2); // A1's failed try and its held retry
    await h.adapter.send(outbound('B', 'B1'));
    await h.adapter.send(outbound('B', 'B2'));

    expect(s.requests.map(textOf)).toEqual(['A1', 'A1', 'B1', 'B2']);
    expect(s.delivered().map(textOf)).toEqual(['B1', 'B2']);

    releaseRetry();
    await Promise.all([a1, a2]);
    // A2 was not even attempted until A1 got through.
    expect(s.requests.map(textOf)).toEqual(['A1', 'A1', 'B1', 'B2', 'A2']);
    expect(s.delivered().filter((r) => channelOf(r) === 'A').map(textOf)).toEqual(['A1', 'A2']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 4, failed: 0, retries: 1 });
  });

  it('a channel whose replies fail for the whole budget is counted failed; other channels are unaffected', async () => {
    const s = await sink({ respond: (req) => (channelOf(req) === 'down' ? 503 : undefined) });
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const h = await startWebhook({ ...fast, replyUrl: s.url, replyAttempts: 4, secret: 'do-not-log' }, { logger });
    const lost = h.adapter.send(outbound('down', 'lost'));
    await h.adapter.send(outbound('up', 'u1'));
    await h.adapter.send(outbound('up', 'u2'));
    await expect(lost).rejects.toThrow(/not delivered/); // rejects once the budget ran out, so the gateway counts it

    expect(s.requests.filter((r) => channelOf(r) === 'down')).toHaveLength(4);
    expect(s.delivered().map(textOf)).toEqual(['u1', 'u2']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 2, failed: 1, retries: 3 });
    expect(lines.filter((l) => l['msg'] === 'webhook reply not delivered; giving up')).toEqual([
      expect.objectContaining({ level: 50, component: 'webhook', channelId: 'down', problem: 'replyUrl answered 503', attempts: 4 }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('do-not-log');

    // The failed reply does not wedge its channel: the next one goes out when the receiver is back.
    const next = h.adapter.send(outbound('down', 'back'));
    await s.waitFor(7);
    expect(textOf(s.requests[6]!)).toBe('back');
    expect(s.requests[6]!.status ?? 503).toBe(503);
    await expect(next).rejects.toThrow(/not delivered/);
    expect(h.adapter.stats().failed).toBe(2);
  });

  it('a replyUrl that is down for the whole budget: every reply counted failed, inbound keeps working', async () => {
    const h = await startWebhook({ ...fast, replyUrl: await deadUrl(), replyAttempts: 3 });
    const results = await Promise.allSettled([h.adapter.send(outbound('A', 'a')), h.adapter.send(outbound('B', 'b'))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 0, failed: 2, retries: 4 });
    expect((await postMessage(h.base, { channelId: 'A', userId: 'u', text: 'still here' })).status).toBe(202);
  });

  it('does not retry a reply the receiver refuses with 4xx', async () => {
    const s = await sink({ statuses: [400] });
    const h = await startWebhook({ ...fast, replyUrl: s.url });
    await expect(h.adapter.send(outbound('A', 'refused'))).rejects.toThrow(/not delivered/);
    await h.adapter.send(outbound('A', 'next'));
    expect(s.requests.map((r) => [textOf(r), r.status])).toEqual([
      ['refused', 400],
      ['next', 200],
    ]);
    expect(h.adapter.stats()).toMatchObject({ delivered: 1, failed: 1, retries: 0 });
  });

  it('retries 429 and 408 (the receiver asks for later)', async () => {
    const s = await sink({ statuses: [429, 408] });
    const h = await startWebhook({ ...fast, replyUrl: s.url });
    await h.adapter.send(outbound('A', 'patient'));
    expect(s.requests.map((r) => r.status)).toEqual([429, 408, 200]);
  });

  it('without a replyUrl, replies are skipped and counted', async () => {
    const h = await startWebhook();
    await h.adapter.send(outbound('A', 'nowhere'));
    expect(h.adapter.stats()).toMatchObject({ delivered: 0, failed: 0, skipped: 1 });
  });

  it('close() waits for a delivery in flight', async () => {
    let release!: () => void;
    const gate = new Promise<number>((resolve) => {
      release = () => resolve(200);
    });
    const s = await sink({ respond: () => gate });
    const h = await startWebhook({ ...fast, replyUrl: s.url });
    const sent = h.adapter.send(outbound('A', 'last words'));
    await s.waitFor(1);
    let closed = false;
    const closing = h.adapter.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    await Promise.all([sent, closing]);
    expect(h.adapter.stats()).toMatchObject({ delivered: 1, failed: 0 });
  });

  it('close() gives up on deliveries after closeTimeoutMs and counts them failed', async () => {
    const s = await sink({ respond: () => new Promise<number>(() => {}) });
    const h = await startWebhook({ ...fast, replyUrl: s.url, replyTimeoutMs: 60_000, closeTimeoutMs: 100 });
    const sent = h.adapter.send(outbound('A', 'stuck'));
    const queued = h.adapter.send(outbound('A', 'behind it'));
    await s.waitFor(1);
    await h.adapter.close();
    expect((await Promise.allSettled([sent, queued])).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 0, failed: 2 });
    // Replies after close are dropped, counted, and reported to the gateway as failed.
    await expect(h.adapter.send(outbound('A', 'too late'))).rejects.toThrow(/not delivered/);
    expect(h.adapter.stats().failed).toBe(3);
    expect(s.requests).toHaveLength(1);
  });

  it('many channels replying at once share at most 16 keep-alive connections to the receiver', async () => {
    const connections = new Set<unknown>();
    let received = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        // A receiver that takes a moment: a sender without a cap would open a connection per waiting reply.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        }, 10);
      });
    });
    server.on('connection', (socket) => connections.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const h = await startWebhook({ ...fast, replyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies` });

    await Promise.all(Array.from({ length: 300 }, (_, i) => h.adapter.send(outbound(`room-${i}`, `reply ${i}`))));
    await Promise.all(Array.from({ length: 50 }, (_, i) => h.adapter.send(outbound(`room-${i}`, `again ${i}`))));

    expect(received).toBe(350);
    expect(h.adapter.stats()).toMatchObject({ delivered: 350, failed: 0, retries: 0 });
    expect(connections.size).toBeGreaterThan(0);
    expect(connections.size).toBeLessThanOrEqual(16);
  });

  it('a receiver that does not answer within replyTimeoutMs: the try is cut and retried', async () => {
    let tries = 0;
    const s = await sink({ respond: () => (++tries === 1 ? new Promise<number>(() => {}) : 200) });
    const h = await startWebhook({ ...fast, replyUrl: s.url, replyTimeoutMs: 200 });
    await h.adapter.send(outbound('A', 'slow receiver'));
    expect(s.requests.map(textOf)).toEqual(['slow receiver', 'slow receiver']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 1, failed: 0, retries: 1 });
  });

  it('a 2xx whose body is cut off counts as delivered (the status is the answer): not sent twice, and the next reply still goes out', async () => {
    const texts: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        texts.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string }).text);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '20' });
        if (texts.length === 1) {
          // FIN after part of the body: the client reads the status first, then finds the body cut short.
          res.write('{"ok":', () => res.socket?.end());
          return;
        }
        res.end('{"ok":true,"pad":""}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const h = await startWebhook({ ...fast, replyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies` });
    await h.adapter.send(outbound('A', 'cut'));
    await h.adapter.send(outbound('A', 'next'));
    expect(texts).toEqual(['cut', 'next']);
    expect(h.adapter.stats()).toMatchObject({ delivered: 2, failed: 0, retries: 0 });
  });

  it('a receiver answering with a huge body: the reply counts as delivered and the next one still goes out', async () => {
    let received = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(1 << 20));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const h = await startWebhook({ ...fast, replyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/replies` });
    await h.adapter.send(outbound('A', 'one'));
    await h.adapter.send(outbound('A', 'two'));
    expect(received).toBe(2);
    expect(h.adapter.stats()).toMatchObject({ delivered: 2, failed: 0, retries: 0 });
  });

  it('start() rejects an unusable replyUrl with an AdapterError that says what to fix', async () => {
    const adapter = new WebhookAdapter({ replyUrl: 'ftp://example.invalid/x' });
    const err = await adapter
      .start({ accept: async () => ({ accepted: false, reason: ErrorCode.InvalidMessage }), logger: silentLogger(), signal: new AbortController().signal })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('BG_ERR_ADAPTER');
    expect((err as GatewayError).message).toContain('adapters.webhook.replyUrl');
    await adapter.close();
  });
});
