import { describe, expect, it } from 'vitest';
import { BatchRun, type RunOutcome, type RunPort } from '../../../src/core/batch-run.js';
import { ErrorCode, GatewayError, ProcessorTimeoutError } from '../../../src/errors.js';
import { QueueEventType, type QueueEvent } from '../../../src/core/events.js';
import { MessageBatch, type OutboundMessage } from '../../../src/core/model.js';
import { DEFAULT_SETTINGS } from '../../../src/core/policy.js';
import { SharedTimeouts } from '../../../src/core/shared-timeouts.js';
import type { ProcessContext, Processor } from '../../../src/processors/processor.js';
import { FakeTime } from '../../helpers/fake-time.js';

type TestRun = BatchRun<string>;

/** A port like an engine's: records events, deliveries and ends; reports each end after its "store step". */
function setup(options: { refuse?: boolean; processingTimeoutMs?: number } = {}) {
  const time = new FakeTime(1_000);
  const events: QueueEvent[] = [];
  const delivered: OutboundMessage[] = [];
  const ends: RunOutcome[] = [];
  const typing: string[] = [];
  const timeouts = new SharedTimeouts<TestRun>(time, time, (run) => void run.abort('timeout'));
  const port: RunPort<string> = {
    clock: time,
    scheduler: time,
    timeouts,
    logger: undefined,
    listening: () => true,
    emit: (event) => events.push(event),
    deliver: (_run, reply) => {
      if (options.refuse) return false;
      delivered.push(reply);
    },
    typing: (run) => void typing.push(run.key),
    onEnd: (run, outcome) => {
      ends.push(outcome);
      run.report(outcome);
    },
  };
  const batch = new MessageBatch('web:room', { at: time.now() });
  batch.add({ id: 'm1', platform: 'web', channelId: 'room', userId: 'u', text: 'hi', queuedAt: time.now() } as never);
  const settings = { ...DEFAULT_SETTINGS, processingTimeoutMs: options.processingTimeoutMs ?? DEFAULT_SETTINGS.processingTimeoutMs };
  const start = (processor: Processor): TestRun => {
    const run = new BatchRun(port, 'owner', { batch, settings, attempt: 1, sealedAt: time.now() - 5 }, time.now());
    run.start(processor);
    return run;
  };
  const types = () => events.map((e) => e.type);
  return { time, events, delivered, ends, typing, start, types };
}

/** A processor that hands its ctx out and finishes when the test says so. */
function held() {
  let ctx!: ProcessContext;
  let finish!: () => void;
  const processor: Processor = (_batch, c) => {
    ctx = c;
    return new Promise<void>((resolve) => (finish = resolve));
  };
  return { processor, ctx: () => ctx, finish: () => finish() };
}

describe('BatchRun', () => {
  it('a processed run: started, its replies delivered and counted, then completed, ended once', async () => {
    const t = setup();
    const bot = held();
    t.start(bot.processor);
    expect(await bot.ctx().reply('one')).toBe(true);
    expect(await bot.ctx().reply({ text: 'two', threadId: 't1' })).toBe(true);
    await bot.ctx().typing();
    bot.finish();
    await t.time.settle();
    expect(t.ends).toEqual([{ status: 'processed' }]);
    expect(t.types()).toEqual([QueueEventType.Started, QueueEventType.Completed]);
    expect(t.events[0]).toMatchObject({ channelKey: 'web:room', waitMs: 5, messageIds: ['m1'] });
    expect(t.events[1]).toMatchObject({ replies: 2 });
    expect(t.delivered.map((r) => [r.text, r.inReplyTo, r.threadId])).toEqual([
      ['one', ['m1'], undefined],
      ['two', ['m1'], 't1'],
    ]);
    expect(t.typing).toEqual(['web:room']);
  });

  it('an interrupt aborts the signal with its own reason (not an operator cancel) and ends the run at once', async () => {
    const t = setup();
    const bot = held();
    const run = t.start(bot.processor);
    const signal = bot.ctx().signal;
    expect(run.abort('interrupt')).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(GatewayError);
    expect((signal.reason as GatewayError).code).toBe(ErrorCode.Cancelled);
    expect((signal.reason as GatewayError).message).toMatch(/interrupted by a newer batch/);
    expect(t.ends).toEqual([{ status: 'aborted', why: 'interrupt' }]);
    // The processor ignored its signal: its late reply is dropped as cancelled, and its return changes nothing.
    expect(await bot.ctx().reply('late')).toBe(false);
    bot.finish();
    await t.time.settle();
    expect(run.abort('cancel')).toBe(false);
    expect(t.ends).toHaveLength(1);
    expect(t.delivered).toEqual([]);
    expect(t.types()).toEqual([QueueEventType.Started, QueueEventType.ReplyDropped]);
    expect(t.events[1]).toMatchObject({ reason: 'cancelled' });
  });

  it('an operator stop reads as stopped; a signal first read after the abort is already aborted', () => {
    const t = setup();
    const bot = held();
    const run = t.start(bot.processor);
    run.abort('stop');
    expect(bot.ctx().signal.aborted).toBe(true);
    expect((bot.ctx().signal.reason as Error).message).toBe('batch stopped by an operator');
    expect(t.events.at(-1)).toMatchObject({ type: QueueEventType.Cancelled, reason: 'stop' });
  });

  it('passing processingTimeoutMs fails the run as a timeout, through the timeout source', async () => {
    const t = setup({ processingTimeoutMs: 2_000 });
    const bot = held();
    t.start(bot.processor);
    await t.time.advance(2_000);
    expect(bot.ctx().signal.reason).toBeInstanceOf(ProcessorTimeoutError);
    expect(t.ends).toEqual([expect.objectContaining({ status: 'failed', timeout: true, error: 'processor passed its 2000 ms timeout' })]);
    expect(t.events.at(-1)).toMatchObject({ type: QueueEventType.Failed, timeout: true });
    expect(t.time.pendingTimers).toBe(0);
  });

  it('a processor that throws fails the run with its message; one that ends clears its timeout', async () => {
    const t = setup();
    t.start(async () => {
      throw new Error('boom');
    });
    await t.time.settle();
    expect(t.ends).toEqual([expect.objectContaining({ status: 'failed', timeout: false, error: 'boom' })]);
    expect(t.time.pendingTimers).toBe(0);
  });

  it('a reply the engine refuses (the batch is no longer current) resolves false and counts as dropped', async () => {
    const t = setup({ refuse: true });
    const bot = held();
    t.start(bot.processor);
    expect(await bot.ctx().reply('x')).toBe(false);
    bot.finish();
    await t.time.settle();
    expect(t.events.find((e) => e.type === QueueEventType.ReplyDropped)).toMatchObject({ reason: 'aborted' });
    expect(t.events.at(-1)).toMatchObject({ type: QueueEventType.Completed, replies: 0 });
  });

  it('a streamed reply publishes snapshots tagged with one stream id and counts once', async () => {
    const t = setup();
    async function* deltas() {
      yield 'a';
      yield 'b';
    }
    t.start(async (_batch, ctx) => {
      await ctx.reply(deltas());
    });
    await t.time.advance(5_000);
    expect(t.delivered.at(-1)).toMatchObject({ text: 'ab', stream: { final: true } });
    expect(new Set(t.delivered.map((r) => r.stream?.id)).size).toBe(1);
    expect(t.events.at(-1)).toMatchObject({ type: QueueEventType.Completed, replies: 1 });
  });
});
