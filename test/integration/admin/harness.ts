import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { AdapterContext, PlatformAdapter } from '../../../adapters/adapter.js';
import type { AdminOptions } from '../../../src/admin/server.js';
import { parseConfig } from '../../../src/config/load.js';
import type { MessageBatch, OutboundMessage } from '../../../src/core/model.js';
import { createGateway, type Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { ProcessContext, Processor } from '../../../src/processors/processor.js';

/** A platform for admin tests: messages go in through the gateway's real `accept`, replies are recorded. */
export class ChatAdapter implements PlatformAdapter {
  readonly platform = 'chat';
  readonly sent: OutboundMessage[] = [];
  private ctx: AdapterContext | undefined;
  private seq = 0;

  async start(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
  }

  say(channelId: string, text: string) {
    if (!this.ctx) throw new Error('adapter not started');
    return this.ctx.accept({ id: `m${++this.seq}`, platform: this.platform, channelId, userId: 'u1', userName: 'Ana', text });
  }

  async send(reply: OutboundMessage): Promise<void> {
    this.sent.push(reply);
  }

  async close(): Promise<void> {}
}

/** One processor call as the test sees it. */
export interface Call {
  batch: MessageBatch;
  ctx: ProcessContext;
  texts: string[];
  startedAt: number;
  /** performance.now() when the batch's signal aborted. */
  abortedAt?: number;
  release: (reply?: string) => void;
  /** Makes the processor throw `error` (the batch fails). */
  fail: (error: Error) => void;
}

/**
 * A processor the test drives: each batch waits until the test releases it (then replies) or its signal
 * aborts. With `auto`, batches reply at once with their texts joined.
 */
export class ControlledProcessor {
  readonly calls: Call[] = [];
  auto = false;
  private waiters: Array<() => void> = [];

  readonly run: Processor = (batch, ctx) =>
    new Promise<void>((resolve, reject) => {
      const texts = batch.messages.map((m) => m.text);
      const call: Call = {
        batch,
        ctx,
        texts,
        startedAt: performance.now(),
        release: (reply) => {
          void ctx.reply(reply ?? texts.join('|')).then(() => resolve());
        },
        fail: reject,
      };
      ctx.signal.addEventListener('abort', () => {
        call.abortedAt = performance.now();
        // A real bot would stop its LLM call here; this one still tries to reply, which must be dropped.
        void ctx.reply(`late reply to ${texts.join('|')}`).then(() => resolve());
      });
      this.calls.push(call);
      for (const w of this.waiters.splice(0)) w();
      if (this.auto) call.release();
    });

  /** Resolves when `n` batches have started. */
  async started(n: number, timeoutMs = 10_000): Promise<Call> {
    await until(() => this.calls.length >= n, timeoutMs, `${n} batches started (have ${this.calls.length})`);
    return this.calls[n - 1]!;
  }
}

/** Polls `predicate` every 10 ms until it holds; fails with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface AdminGatewayOptions {
  token?: string;
  /** Merged into the `http` config section (port 0 stays). */
  http?: Record<string, unknown>;
  batching?: Record<string, unknown>;
  processor?: Processor;
  admin?: AdminOptions;
  /** The test releases each batch by hand (else batches reply at once). */
  manual?: boolean;
}

/** A started gateway with the chat adapter (and the webhook adapter when asked), stopped after the test. */
export async function startGateway(options: AdminGatewayOptions = {}): Promise<{ gw: Gateway; chat: ChatAdapter; processor: ControlledProcessor }> {
  const processor = new ControlledProcessor();
  processor.auto = !options.manual;
  const chat = new ChatAdapter();
  const scratch = join(tmpdir(), `batchgate-admin-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const config = parseConfig(
    {
      http: { ...(options.http ?? {}), port: 0 },
      admin: { token: options.token ?? '' },
      batching: { ...(options.batching ?? {}), defaults: { windowMs: 50, maxWaitMs: 600_000, ...((options.batching?.['defaults'] as object | undefined) ?? {}) } },
      // A journal of its own per gateway (the default sits beside spoolPath: one shared dir for all of them).
      state: { spoolPath: `${scratch}.jsonl`, journal: { path: `${scratch}-journal`, fsync: 'off' } },
      shutdownTimeoutMs: 1_000,
    },
    {},
  );
  const adapters: PlatformAdapter[] = [chat];
  const gw = createGateway({ config, logger: silentLogger(), processor: options.processor ?? processor.run, adapters, admin: options.admin });
  onTestFinished(async () => {
    await gw.close();
  });
  await gw.start();
  return { gw, chat, processor };
}

/** Calls the admin API over real HTTP and returns status and parsed JSON. */
export async function api(gw: Gateway, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // non-JSON answers (metrics text, HTML) stay text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** `chat:<id>` URL-encoded for a path. */
export const key = (channelId: string) => encodeURIComponent(`chat:${channelId}`);
