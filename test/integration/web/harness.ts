import { onTestFinished } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import type { AcceptResult, InboundMessage } from '../../../adapters/adapter.js';
import { WebAdapter, type WebAdapterOptions } from '../../../adapters/web/index.js';
import { ServerFrame } from '../../../adapters/web/protocol.js';
import { silentLogger } from '../../../src/logger.js';

/**
 * Stands in for the gateway around one WebAdapter: a real fastify server on 127.0.0.1:0, `accept` that
 * records what it was handed and answers what the test says, and direct access to `send`/`onQueueEvent`
 * so the test plays the queue's part explicitly. No batching logic lives here.
 */
export interface WebHarness {
  app: FastifyInstance;
  adapter: WebAdapter;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** ws://127.0.0.1:PORT/chat/ws */
  wsUrl: string;
  accepted: InboundMessage[];
  /** Every typing signal the adapter handed over, in order (answered `held: false`). */
  typingSignals: Array<{ channelId: string; userId: string }>;
  /** What the next `accept` answers; defaults to accepted with a deadline `windowMs` ahead. */
  answer: (msg: InboundMessage, count: number) => AcceptResult;
  windowMs: number;
  shutdown: AbortController;
  /** Shuts the adapter and server down now (also done after the test). */
  stop(): Promise<void>;
}

export async function startWebHarness(options: Partial<WebAdapterOptions> & { port?: number } = {}): Promise<WebHarness> {
  const { port = 0, ...adapterOptions } = options;
  const app = Fastify({ logger: false });
  const adapter = new WebAdapter({ maxFrameBytes: 16_384, ...adapterOptions });
  const shutdown = new AbortController();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      shutdown.abort();
      await adapter.close();
      await app.close();
    })());
  onTestFinished(stop);
  await adapter.routes(app);
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('fastify did not bind a TCP port');
  const h: WebHarness = {
    app,
    adapter,
    baseUrl: `http://127.0.0.1:${address.port}`,
    wsUrl: `ws://127.0.0.1:${address.port}/chat/ws`,
    accepted: [],
    typingSignals: [],
    windowMs: 5_000,
    shutdown,
    stop,
    answer: (msg, count) => ({
      accepted: true,
      channelKey: `${msg.platform}:${msg.channelId}`,
      id: msg.id,
      deadline: Date.now() + h.windowMs,
      pending: count,
      typing: true,
    }),
  };
  await adapter.start({
    logger: silentLogger(),
    signal: shutdown.signal,
    accept: async (msg) => {
      h.accepted.push(msg);
      return h.answer(msg, h.accepted.filter((m) => m.channelId === msg.channelId).length);
    },
    typing: async (channelId, userId) => {
      h.typingSignals.push({ channelId, userId });
      return { held: false };
    },
  });
  return h;
}

/** A raw `ws` client that records every frame, validated against the protocol's server frame schema. */
export class TestSocket {
  readonly frames: ServerFrame[] = [];
  readonly ws: WebSocket;
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;
  #waiters: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.frames.push(ServerFrame.parse(JSON.parse(String(data))));
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = String(reason);
        this.#notify();
        resolve(code);
      });
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string): Promise<TestSocket> {
    const ws = new WebSocket(url);
    const socket = new TestSocket(ws);
    onTestFinished(() => {
      ws.terminate();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return socket;
  }

  /** Opens a socket and completes the hello; returns the socket and its channel id. */
  static async hello(url: string, channelId?: string): Promise<{ socket: TestSocket; channelId: string }> {
    const socket = await TestSocket.open(url);
    socket.send(channelId === undefined ? { type: 'hello' } : { type: 'hello', channelId });
    const welcome = await socket.next('welcome');
    return { socket, channelId: welcome.channelId };
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * Resolves with the first frame of `type` not yet consumed by an earlier `next`; frames before it are
   * kept for later calls of other types.
   */
  async next<T extends ServerFrame['type']>(type: T, timeoutMs = 10_000): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.frames.findIndex((f) => f.type === type);
      if (at >= 0) return this.frames.splice(at, 1)[0] as Extract<ServerFrame, { type: T }>;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) before a "${type}" frame`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Polls `check` until it returns true (no fixed sleeps in assertions). */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
