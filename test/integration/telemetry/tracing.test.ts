import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { WorkerProcess } from '../../../src/distributed/worker-process.js';
import { createGateway, type Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/logger.js';
import type { Processor } from '../../../src/processors/processor.js';
import { Attr, SpanName } from '../../../src/telemetry/index.js';
import { ChatAdapter, until } from '../admin/harness.js';
import { startRedis, type RedisServer } from '../../helpers/redis-server.js';
import { tempState } from '../../helpers/temp-state.js';

// The SDK as an embedder registers it (context manager, W3C propagator), exporting to memory.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  provider.register();
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
afterEach(() => exporter.reset());

const echo: Processor = async (batch, ctx) => {
  await ctx.reply(batch.messages.map((m) => m.text).join(' '));
};

function gatewayConfig(extra: Record<string, unknown> = {}) {
  return parseConfig(
    {
      http: { port: 0 },
      // Three messages seal by size: the batch's shape does not depend on timing.
      batching: { defaults: { windowMs: 60_000, maxWaitMs: 600_000, maxBatchSize: 3 } },
      state: tempState(),
      shutdownTimeoutMs: 1_000,
      ...extra,
    },
    {},
  );
}

async function startTracedGateway(processor: Processor | undefined, extra: Record<string, unknown> = {}): Promise<{ gw: Gateway; chat: ChatAdapter }> {
  const chat = new ChatAdapter();
  const gw = createGateway({ config: gatewayConfig(extra), logger: silentLogger(), adapters: [chat], tracerProvider: provider, ...(processor ? { processor } : {}) });
  onTestFinished(() => gw.close().then(() => undefined));
  await gw.start();
  return { gw, chat };
}

/** Waits until the batch's root span has ended (its children end before it or with it). */
async function traceOfOneBatch(): Promise<{ root: ReadableSpan; byName: Map<string, ReadableSpan[]>; spans: ReadableSpan[] }> {
  await until(() => exporter.getFinishedSpans().some((s) => s.name === SpanName.Batch), 10_000, 'the batch span');
  await until(() => exporter.getFinishedSpans().some((s) => s.name === SpanName.Reply), 10_000, 'the reply span');
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === SpanName.Batch)!;
  const byName = new Map<string, ReadableSpan[]>();
  for (const s of spans) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  return { root, byName, spans };
}

const ms = (t: [number, number]) => t[0] * 1_000 + t[1] / 1e6;

/** The tree every traced batch has: the root, and its four stages as children, in order. */
function expectBatchTree(root: ReadableSpan, byName: Map<string, ReadableSpan[]>, channelKey: string): void {
  expect(root.parentSpanContext).toBeUndefined();
  expect(root.attributes).toMatchObject({ [Attr.ChannelKey]: channelKey, [Attr.FlushReason]: 'size', [Attr.BatchSize]: 3, [Attr.Outcome]: 'completed', [Attr.Replies]: 1 });
  const batchId = root.attributes[Attr.BatchId];
  expect(typeof batchId).toBe('string');
  const [collect, wait, process, reply] = [SpanName.Collect, SpanName.Wait, SpanName.Process, SpanName.Reply].map((name) => {
    const found = byName.get(name) ?? [];
    expect(found, name).toHaveLength(1);
    const span = found[0]!;
    expect(span.spanContext().traceId, `${name} is in the batch's trace`).toBe(root.spanContext().traceId);
    expect(span.parentSpanContext?.spanId, `${name} is a child of the batch span`).toBe(root.spanContext().spanId);
    expect(span.attributes[Attr.BatchId], name).toBe(batchId);
    expect(span.attributes[Attr.ChannelKey], name).toBe(channelKey);
    return span;
  }) as [ReadableSpan, ReadableSpan, ReadableSpan, ReadableSpan];
  expect(process.attributes).toMatchObject({ [Attr.Attempt]: 1, [Attr.BatchSize]: 3, [Attr.FlushReason]: 'size' });
  expect(reply.attributes).toMatchObject({ [Attr.ReplyPublished]: true });
  // received → sealed → waited for a slot → processed → replied (spans' clocks agree to within a ms)
  const inOrder = (earlier: [number, number], later: [number, number], what: string) => expect(ms(earlier), what).toBeLessThanOrEqual(ms(later) + 1);
  expect(ms(collect.startTime)).toBe(ms(root.startTime));
  expect(ms(collect.endTime)).toBe(ms(wait.startTime));
  inOrder(wait.endTime, process.startTime, 'wait ends before processing starts');
  inOrder(process.startTime, reply.startTime, 'the reply is sent while processing');
  inOrder(reply.endTime, process.endTime, 'processing ends after its reply');
  inOrder(process.endTime, root.endTime, 'the batch ends with its processing');
}

describe('tracing, embedded', () => {
  it('one batch of three messages: a batch span with collect, wait, process and reply children, with its attributes', async () => {
    const { chat } = await startTracedGateway(echo);
    for (const text of ['one', 'two', 'three']) expect(await chat.say('room', text)).toMatchObject({ accepted: true });
    await until(() => chat.sent.length === 1, 10_000, 'the reply');
    const { root, byName, spans } = await traceOfOneBatch();
    expectBatchTree(root, byName, 'chat:room');
    expect(spans).toHaveLength(5);
  });

  it('the HTTP processor’s request carries the traceparent of the batch’s processing span', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const bot: Server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replies: [{ text: 'hi' }] })));
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => bot.close(() => resolve())));
    const url = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/batch`;
    const { chat } = await startTracedGateway(undefined, { processor: { type: 'http', url, timeoutMs: 5_000 } });
    for (const text of ['one', 'two', 'three']) await chat.say('room', text);
    const { root, byName } = await traceOfOneBatch();
    expectBatchTree(root, byName, 'chat:room');
    const processSpan = byName.get(SpanName.Process)![0]!.spanContext();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.traceparent).toBe(`00-${processSpan.traceId}-${processSpan.spanId}-01`);
  });

  it('with tracing off (no provider, no endpoint) the HTTP processor sends no traceparent', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const bot: Server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => bot.close(() => resolve())));
    const chat = new ChatAdapter();
    const url = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/batch`;
    const gw = createGateway({ config: gatewayConfig({ processor: { type: 'http', url, timeoutMs: 5_000 } }), logger: silentLogger(), adapters: [chat] });
    onTestFinished(() => gw.close().then(() => undefined));
    await gw.start();
    for (const text of ['one', 'two', 'three']) await chat.say('room', text);
    await until(() => seen.length === 1, 10_000, 'the bot called');
    expect(seen[0]!.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('tracing, distributed (real Redis, real BullMQ)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ appendonly: false });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('the worker’s process and reply spans are children of the gateway’s batch span, through the job data', async () => {
    const distributed = { redis: { url: redis.url }, distributed: { prefix: 'trace', pollMs: 50, reconcileMs: 500 } };
    const worker = new WorkerProcess({ config: gatewayConfig({ ...distributed, http: { host: '127.0.0.1', port: 0 } }), logger: silentLogger(), processor: echo, tracerProvider: provider });
    onTestFinished(() => worker.close());
    await worker.start();
    const { chat } = await startTracedGateway(undefined, distributed);
    for (const text of ['one', 'two', 'three']) expect(await chat.say('room', text)).toMatchObject({ accepted: true });
    await until(() => chat.sent.length === 1, 15_000, 'the reply');
    const { root, byName } = await traceOfOneBatch();
    expectBatchTree(root, byName, 'chat:room');
    // The worker's spans hang off a parent that came from outside the process's own spans: the job's carrier.
    for (const name of [SpanName.Process, SpanName.Reply]) expect(byName.get(name)![0]!.parentSpanContext?.isRemote, name).toBe(true);
    for (const name of [SpanName.Collect, SpanName.Wait]) expect(byName.get(name)![0]!.parentSpanContext?.isRemote, name).toBeFalsy();
  });

  it('a batch sealed behind the one in flight, dispatched by the worker after its ACK, still runs in its own trace', async () => {
    const distributed = { redis: { url: redis.url }, distributed: { prefix: 'trace2', pollMs: 50, reconcileMs: 500 } };
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const holdFirst: Processor = async (batch, ctx) => {
      if (++started === 1) await held;
      await ctx.reply(batch.messages.map((m) => m.text).join(' '));
    };
    const worker = new WorkerProcess({ config: gatewayConfig({ ...distributed, http: { host: '127.0.0.1', port: 0 } }), logger: silentLogger(), processor: holdFirst, tracerProvider: provider });
    onTestFinished(() => worker.close());
    await worker.start();
    const { gw, chat } = await startTracedGateway(undefined, distributed);
    for (const text of ['a1', 'a2', 'a3']) await chat.say('room', text);
    await until(() => started === 1, 15_000, 'the first batch running');
    for (const text of ['b1', 'b2', 'b3']) await chat.say('room', text);
    await until(async () => (await gw.queue.stats('chat:room'))?.queuedBatches === 1, 10_000, 'the second batch sealed and waiting');
    release();
    await until(() => chat.sent.length === 2, 15_000, 'both replies');
    await until(() => exporter.getFinishedSpans().filter((s) => s.name === SpanName.Batch).length === 2, 10_000, 'both batch spans');
    const spans = exporter.getFinishedSpans();
    for (const root of spans.filter((s) => s.name === SpanName.Batch)) {
      const batchId = root.attributes[Attr.BatchId];
      const process = spans.filter((s) => s.name === SpanName.Process && s.attributes[Attr.BatchId] === batchId);
      expect(process, String(batchId)).toHaveLength(1);
      expect(process[0]!.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(process[0]!.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
  });
});
