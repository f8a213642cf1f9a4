import { describe, expect, it } from 'vitest';
import { InvalidMessageError, InvalidSettingsError, ErrorCode, UnknownChannelError } from '../../../src/errors.js';
import { QueueEventType } from '../../../src/core/events.js';
import { MessageBatch } from '../../../src/core/model.js';
import { createHarness } from '../../helpers/queue-harness.js';

describe('MessageQueue batching on fake time', () => {
  it('slides the quiet window: a burst stays open until windowMs passes with no message', async () => {
    const h = createHarness({ settings: { windowMs: 5_000, maxWaitMs: 60_000 } });
    await h.send('c1', 'hey');
    await h.time.advance(3_000);
    await h.send('c1', 'quick question');
    await h.time.advance(3_000); // 6 s after the first, 3 s after the second: still open
    await h.send('c1', 'the deploy failed');
    await h.time.advance(4_999);
    expect(h.runs).toHaveLength(0);
    expect((await h.queue.stats('test:c1'))?.pending).toBe(3);
    await h.time.advance(1);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]!.texts).toEqual(['hey', 'quick question', 'the deploy failed']);
    expect(h.runs[0]!.batch.flushReason).toBe('window');
  });

  it('flushes at once when the open batch reaches maxBatchSize', async () => {
    const h = createHarness({ settings: { windowMs: 5_000, maxBatchSize: 3 } });
    await h.send('c1', 'a');
    await h.send('c1', 'b');
    await h.send('c1', 'c');
    await h.time.settle();
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]!.texts).toEqual(['a', 'b', 'c']);
    expect(h.runs[0]!.batch.flushReason).toBe('size');
    await h.send('c1', 'd');
    expect((await h.queue.stats('test:c1'))?.pending).toBe(1);
  });

  it('flushes by maxWaitMs a channel that never goes quiet', async () => {
    const h = createHarness({ settings: { windowMs: 2_000, maxWaitMs: 5_000, maxBatchSize: 100 } });
    for (let i = 0; i < 10; i++) {
      await h.send('c1', `m${i}`);
      await h.time.advance(1_000);
      if (h.runs.length > 0) break;
    }
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]!.batch.flushReason).toBe('maxWait');
    expect(h.runs[0]!.texts).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']); // flushed at exactly firstAt + 5 s
    const flushed = h.eventsOf(QueueEventType.Flushed)[0]!;
    expect(flushed.deadline).toBe(h.runs[0]!.batch.firstAt + 5_000);
    expect(flushed.latenessMs).toBeGreaterThanOrEqual(0);
  });

  it('disabled: every message is its own batch, still strictly in order', async () => {
    const h = createHarness({ settings: { disabled: true }, autoProcessMs: 10 });
    for (const t of ['one', 'two', 'three']) await h.send('c1', t);
    await h.time.settle();
    expect(h.runs).toHaveLength(1); // one in flight at a time
    await h.time.advance(100);
    expect(h.runs.map((r) => r.texts)).toEqual([['one'], ['two'], ['three']]);
    expect(h.runs.every((r) => r.batch.flushReason === 'disabled')).toBe(true);
    expect(h.replies.map((r) => r.text)).toEqual(['one', 'two', 'three']);
  });

  it('turning `disabled` on while a window is open keeps arrival order', async () => {
    const h = createHarness({ settings: { windowMs: 5_000 }, autoProcessMs: 1 });
    await h.send('c1', 'first');
    await h.queue.setSettings('test:c1', { disabled: true });
    await h.send('c1', 'second');
    await h.send('c1', 'third');
    await h.time.advance(100);
    expect(h.runs.map((r) => r.texts)).toEqual([['first', 'second'], ['third']]);
  });

  it('batches that became ready while dispatch was paused run once it resumes', async () => {
    const h = createHarness({ settings: { disabled: true } });
    await h.send('c1', 'a');
    await h.send('c1', 'b');
    await h.time.settle();
    h.queue.pauseDispatch();
    h.runs[0]!.resolve();
    await h.time.settle();
    expect(h.runs).toHaveLength(1);
    await h.queue.startProcessing();
    await h.time.settle();
    expect(h.runs.map((r) => r.texts)).toEqual([['a'], ['b']]);
  });

  it('interrupt: a new batch aborts the in-flight one and re-runs its messages merged in front', async () => {
    const h = createHarness({ settings: { windowMs: 1_000, mode: 'interrupt' } });
    await h.send('c1', 'first');
    await h.send('c1', 'second');
    await h.time.advance(1_000);
    expect(h.runs).toHaveLength(1);
    const first = h.runs[0]!;
    await h.send('c1', 'actually, third');
    await h.time.advance(1_000);
    expect(first.ctx.signal.aborted).toBe(true);
    expect(h.runs).toHaveLength(2);
    expect(h.runs[1]!.texts).toEqual(['first', 'second', 'actually, third']);
    expect(h.runs[1]!.ctx.attempt).toBe(2);
    expect(await first.ctx.reply('stale answer')).toBe(false);
    h.runs[1]!.resolve();
    await h.time.settle();
    const stats = await h.queue.stats('test:c1');
    expect(stats?.counters.cancelled ?? 0).toBe(0);
    expect(h.eventsOf(QueueEventType.Interrupted)).toHaveLength(1);
  });

  it('enqueueFront goes ahead of waiting batches but not ahead of the one in flight', async () => {
    const h = createHarness({ settings: { disabled: true } });
    await h.send('c1', 'A');
    await h.send('c1', 'B');
    await h.send('c1', 'C');
    await h.time.settle();
    expect(h.runs.map((r) => r.texts[0])).toEqual(['A']);
    await h.queue.enqueueFront(h.msg('c1', 'URGENT'));
    await h.time.settle();
    expect(h.runs).toHaveLength(1); // A keeps running
    for (let i = 0; i < 4; i++) {
      h.runs.at(-1)!.resolve();
      await h.time.settle();
    }
    expect(h.runs.map((r) => r.texts[0])).toEqual(['A', 'URGENT', 'B', 'C']);
    expect(h.runs[1]!.batch.flushReason).toBe('admin');
  });

  it('enqueueFront accepts a whole batch', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    const batch = new MessageBatch('test:c9', { messages: [{ ...h.msg('c9', 'x'), queuedAt: 1, extra: {} }] });
    const r = await h.queue.enqueueFront(batch);
    expect(r.accepted).toBe(true);
    await h.time.settle();
    expect(h.runs[0]!.batch.id).toBe(batch.id);
    await expect(h.queue.enqueueFront(new MessageBatch('test:c9'))).rejects.toMatchObject({ code: ErrorCode.EmptyBatch });
  });

  it('cancelCurrent aborts the signal; a reply after it is dropped and counted; the next batch runs', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    await h.send('c1', 'slow one');
    await h.time.advance(1_000);
    await h.send('c1', 'next');
    await h.time.advance(1_000);
    const run = h.runs[0]!;
    expect(await h.queue.cancelCurrent('test:c1')).toBe(true);
    expect(run.ctx.signal.aborted).toBe(true);
    expect(await run.ctx.reply('too late')).toBe(false);
    expect(h.replies).toHaveLength(0);
    expect(h.queue.totals().repliesDropped).toBe(1);
    expect(h.eventsOf(QueueEventType.ReplyDropped)).toHaveLength(1);
    await h.time.settle();
    expect(h.runs).toHaveLength(2);
    expect(h.runs[1]!.texts).toEqual(['next']);
    const stats = await h.queue.stats('test:c1');
    expect(stats?.counters.cancelled).toBe(1);
    expect(await h.queue.cancelCurrent('test:c1')).toBe(true); // cancels "next"
    expect(await h.queue.cancelCurrent('test:c1')).toBe(false); // idempotent: nothing in flight
    run.resolve(); // the aborted processor finishing late changes nothing
    await h.time.settle();
    expect((await h.queue.stats('test:c1'))?.counters.processed).toBe(0);
  });

  it('stop cancels and pauses: no batch is dispatched while paused, even when the window closes', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    await h.send('c1', 'one');
    await h.time.advance(1_000);
    const run = h.runs[0]!;
    await h.send('c1', 'two'); // window open when stop arrives
    expect(await h.queue.stop('test:c1')).toEqual({ paused: true, cancelled: true });
    expect(run.ctx.signal.aborted).toBe(true);
    await h.time.advance(5_000); // the window closes while paused
    expect(h.runs).toHaveLength(1);
    let stats = await h.queue.stats('test:c1');
    expect(stats).toMatchObject({ paused: true, pending: 0, queuedBatches: 1, processing: false });
    await h.send('c1', 'three'); // messages keep collecting
    await h.time.advance(5_000);
    expect(h.runs).toHaveLength(1);
    expect(await h.queue.stop('test:c1')).toEqual({ paused: true, cancelled: false }); // idempotent
    await h.queue.resume('test:c1');
    await h.time.settle();
    expect(h.runs.map((r) => r.texts)).toEqual([['one'], ['two']]);
    h.runs[1]!.resolve();
    await h.time.settle();
    expect(h.runs.map((r) => r.texts)).toEqual([['one'], ['two'], ['three']]);
    stats = await h.queue.stats('test:c1');
    expect(stats?.paused).toBe(false);
    await expect(h.queue.stop('test:nope')).rejects.toBeInstanceOf(UnknownChannelError);
  });

  it('clear returns how many messages went (open + queued) and none of them is ever dispatched', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    await h.send('c1', 'in flight');
    await h.time.advance(1_000);
    await h.send('c1', 'q1');
    await h.send('c1', 'q2');
    await h.time.advance(1_000); // sealed, waits behind the in-flight one
    await h.send('c1', 'open');
    expect(await h.queue.clear('test:c1')).toBe(3);
    expect(await h.queue.clear('test:c1')).toBe(0);
    h.runs[0]!.resolve();
    await h.time.advance(10_000);
    expect(h.runs.map((r) => r.texts)).toEqual([['in flight']]);
    expect(h.eventsOf(QueueEventType.Cleared)[0]!.removed).toBe(3);
  });

  it('a processor that throws or passes its timeout fails only its own batch; the channel moves on', async () => {
    const h = createHarness({ settings: { windowMs: 100, processingTimeoutMs: 2_000 } });
    await h.send('c1', 'boom');
    await h.send('c2', 'fine');
    await h.time.advance(100);
    await h.send('c1', 'after boom');
    await h.time.advance(100);
    h.runs.find((r) => r.texts[0] === 'boom')!.reject(new Error('model exploded'));
    h.runs.find((r) => r.texts[0] === 'fine')!.resolve();
    await h.time.settle();
    const afterBoom = h.runs.find((r) => r.texts[0] === 'after boom')!;
    expect(afterBoom).toBeDefined();
    await h.time.advance(2_000); // ignores its signal: timeout
    expect(afterBoom.ctx.signal.aborted).toBe(true);
    expect(afterBoom.ctx.signal.reason).toMatchObject({ code: ErrorCode.ProcessorTimeout });
    const failed = h.eventsOf(QueueEventType.Failed);
    expect(failed.map((f) => [f.timeout, f.error])).toEqual([
      [false, 'model exploded'],
      [true, 'processor passed its 2000 ms timeout'],
    ]);
    await h.send('c1', 'still alive');
    await h.time.advance(100);
    expect(h.runs.at(-1)!.texts).toEqual(['still alive']);
    expect((await h.queue.stats('test:c1'))?.counters.failed).toBe(2);
  });

  it('maxConcurrentBatches: 2 of 5 channels run, the rest start oldest-seal-first, per-channel order holds', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 }, maxConcurrentBatches: 2 });
    const channels = ['a', 'b', 'c', 'd', 'e'];
    for (const c of channels) {
      await h.send(c, `${c}1`);
      await h.time.advance(10); // seal order a < b < c < d < e
    }
    await h.time.advance(1_000);
    for (const c of channels) await h.send(c, `${c}2`);
    await h.time.advance(1_000);
    let maxRunning = 0;
    const started: string[] = [];
    for (let i = 0; i < 20 && h.runs.length > started.length - 0; i++) {
      const running = h.runs.filter((r) => !(r as { done?: boolean }).done);
      maxRunning = Math.max(maxRunning, running.length, h.queue.totals().running);
      const next = running[0];
      if (!next) break;
      (next as { done?: boolean }).done = true;
      started.push(next.texts.join(','));
      next.resolve();
      await h.time.settle();
    }
    expect(maxRunning).toBe(2);
    expect(h.runs.map((r) => r.texts.join(','))).toEqual(['a1', 'b1', 'c1', 'd1', 'e1', 'a2', 'b2', 'c2', 'd2', 'e2']);
  });

  it('overflow merge keeps every message; drop-oldest and reject count what they drop', async () => {
    const merge = createHarness({ settings: { disabled: true, maxQueuedBatches: 2, overflow: 'merge' } });
    await merge.send('c', 'x0');
    await merge.queue.stop('test:c');
    for (let i = 1; i <= 4; i++) await merge.send('c', `x${i}`);
    expect(await merge.queue.stats('test:c')).toMatchObject({ queuedBatches: 2, queuedMessages: 4 });
    await merge.queue.resume('test:c');
    await merge.time.settle();
    merge.runs.at(-1)!.resolve();
    await merge.time.settle();
    expect(merge.runs.slice(1).map((r) => r.texts)).toEqual([['x1', 'x2', 'x3'], ['x4']]);

    const drop = createHarness({ settings: { disabled: true, maxQueuedBatches: 2, overflow: 'drop-oldest' } });
    await drop.send('c', 'y0');
    await drop.queue.stop('test:c');
    for (let i = 1; i <= 4; i++) await drop.send('c', `y${i}`);
    expect(await drop.queue.stats('test:c')).toMatchObject({ queuedBatches: 2, counters: { dropped: 2 } });
    expect(drop.eventsOf(QueueEventType.Dropped).map((e) => [e.reason, e.count])).toEqual([['overflow', 1], ['overflow', 1]]);

    const reject = createHarness({ settings: { disabled: true, maxQueuedBatches: 2, overflow: 'reject' } });
    await reject.send('c', 'z0');
    await reject.queue.stop('test:c');
    await reject.send('c', 'z1');
    await reject.send('c', 'z2');
    const refused = await reject.send('c', 'z3');
    expect(refused).toMatchObject({ accepted: false, reason: 'queue full' });
    expect(await reject.queue.stats('test:c')).toMatchObject({ queuedBatches: 2, counters: { dropped: 1 } });
    expect(reject.eventsOf(QueueEventType.Dropped)[0]).toMatchObject({ reason: 'rejected', count: 1 });
  });

  it('warns once per crossing of queueWarnRatio', async () => {
    const h = createHarness({ settings: { disabled: true, maxQueuedBatches: 4 }, queueWarnRatio: 0.5 });
    await h.send('c', 'a');
    await h.queue.stop('test:c');
    for (const t of ['b', 'c', 'd']) await h.send('c', t);
    expect(h.eventsOf(QueueEventType.OverWarn)).toHaveLength(1);
    await h.queue.clear('test:c');
    expect(h.eventsOf(QueueEventType.UnderWarn)).toHaveLength(1);
  });

  it('a settings change takes effect on the open window: a shorter window flushes sooner', async () => {
    const h = createHarness({ settings: { windowMs: 10_000 } });
    await h.send('c1', 'hello');
    await h.queue.setSettings('test:c1', { windowMs: 500 });
    await h.time.advance(500);
    expect(h.runs).toHaveLength(1);
    const s = await h.queue.getSettings('test:c1');
    expect(s.override).toEqual({ windowMs: 500 });
    expect(s.effective.windowMs).toBe(500);
    await h.queue.deleteSettings('test:c1');
    expect((await h.queue.getSettings('test:c1')).override).toBeNull();
  });

  it('resolves settings: channel override, then the first matching pattern, then defaults', async () => {
    const h = createHarness({
      settings: { windowMs: 5_000 },
      patterns: [
        { match: 'test:vip-*', windowMs: 100 },
        { match: 'test:*', windowMs: 2_000 },
      ],
    });
    expect((await h.queue.getSettings('test:vip-1')).effective.windowMs).toBe(100);
    expect((await h.queue.getSettings('test:other')).effective.windowMs).toBe(2_000);
    expect((await h.queue.getSettings('web:x')).effective.windowMs).toBe(5_000);
    await h.queue.setSettings('test:vip-1', { windowMs: 42 });
    expect((await h.queue.getSettings('test:vip-1')).effective.windowMs).toBe(42);
  });

  it('bad input gets typed errors naming the field and never disturbs a neighbour', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    await h.send('ok', 'neighbour');
    const noChannel = { id: 'x', platform: 'test', userId: 'u', text: 'hi' };
    await expect(h.queue.enqueue(noChannel)).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(h.queue.enqueue(noChannel)).rejects.toMatchObject({ issues: [{ path: 'channelId' }] });
    await expect(h.queue.enqueue({ id: 'x', platform: 'test', channelId: 'c', userId: 'u' })).rejects.toMatchObject({
      code: ErrorCode.InvalidMessage,
      issues: [{ path: 'text' }],
    });
    await expect(h.queue.enqueue(null)).rejects.toBeInstanceOf(InvalidMessageError);
    const bad = h.queue.setSettings('test:ok', { windowMs: -1, maxBatchSize: 0, mode: 'yolo' });
    await expect(bad).rejects.toBeInstanceOf(InvalidSettingsError);
    const err = (await bad.catch((e: unknown) => e)) as InvalidSettingsError;
    expect(err.issues.map((i) => i.path).sort()).toEqual(['maxBatchSize', 'mode', 'windowMs']);
    await expect(h.queue.setSettings('test:ok', { windowMs: 1, bogus: true })).rejects.toMatchObject({ code: ErrorCode.InvalidSettings });
    await h.time.advance(1_000);
    expect(h.runs.map((r) => r.texts)).toEqual([['neighbour']]);
  });

  it('an idle channel holds no timer and is evicted; its counters stay readable', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 }, autoProcessMs: 10 });
    await h.send('c1', 'hi');
    expect(h.queue.activeChannels()).toBe(1);
    expect(h.time.pendingTimers).toBe(1); // the one deadline timer
    await h.time.advance(2_000);
    expect(h.replies.map((r) => r.text)).toEqual(['hi']);
    expect(h.queue.activeChannels()).toBe(0);
    expect(h.time.pendingTimers).toBe(0);
    expect(h.queue.timerArmed).toBe(false);
    expect(await h.queue.stats('test:c1')).toMatchObject({ active: false, counters: { received: 1, processed: 1 } });
  });

  it('a window that closes outside the timer (cleared, disarmed) leaves no timer behind once none is open', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    await h.send('c1', 'a');
    await h.send('c2', 'b');
    expect(await h.queue.clear('test:c1')).toBe(1);
    expect(h.queue.timerArmed).toBe(true); // c2's window is still open
    expect(await h.queue.cancelBatchTimer('test:c2')).toBe(true);
    expect(h.queue.timerArmed).toBe(false);
    expect(h.time.pendingTimers).toBe(0);
  });

  it('one timer serves many channels', async () => {
    const h = createHarness({ settings: { windowMs: 1_000 } });
    for (let i = 0; i < 100; i++) await h.send(`c${i}`, 'x');
    expect(h.time.pendingTimers).toBe(1);
    await h.time.advance(1_000);
    expect(h.runs).toHaveLength(32); // maxConcurrentBatches default
  });

  it('replies carry the batch id, the channel and the ids of the batch messages in order', async () => {
    const h = createHarness({ settings: { windowMs: 100 }, autoProcessMs: 1 });
    await h.send('c1', 'a');
    await h.send('c1', 'b', 'Bo');
    await h.time.advance(200);
    expect(h.replies).toEqual([
      { platform: 'test', channelId: 'c1', text: 'Ana: a\nBo: b', batchId: h.runs[0]!.batch.id, inReplyTo: ['m1', 'm2'] },
    ]);
  });

  it('drain flushes open windows with reason shutdown and hands back what could not run', async () => {
    const h = createHarness({ settings: { windowMs: 10_000 } });
    await h.send('c1', 'open window');
    await h.send('c2', 'ignored signal');
    const draining = h.queue.drain(5_000);
    await h.time.settle();
    expect(h.runs.map((r) => r.batch.flushReason)).toEqual(['shutdown', 'shutdown']);
    h.runs[0]!.resolve();
    expect((await h.queue.enqueue(h.msg('c3', 'late'))).accepted).toBe(false);
    await h.time.advance(5_000);
    const result = await draining;
    expect(result.drained).toBe(1);
    expect(result.waiting.map((b) => b.messages.map((m) => m.text))).toEqual([['ignored signal']]);
    expect(h.runs[1]!.ctx.signal.aborted).toBe(true);
  });
});

describe('MessageQueue on the real clock', () => {
  it('never flushes before the deadline', async () => {
    const { MessageQueue } = await import('../../../src/core/message-queue.js');
    const { SettingsPolicy } = await import('../../../src/core/policy.js');
    const flushes: Array<{ at: number; deadline: number; size: number }> = [];
    const queue = new MessageQueue({
      processor: async () => {},
      onReply: () => {},
      policy: new SettingsPolicy({ windowMs: 20 }),
    });
    queue.on((e) => {
      if (e.type === QueueEventType.Flushed) flushes.push({ at: e.at, deadline: e.deadline, size: e.size });
    });
    for (let i = 0; i < 50; i++) {
      await queue.enqueue({ id: `r${i}`, platform: 't', channelId: `ch${i % 10}`, userId: 'u', text: 'x' });
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    // How many batches form depends on the machine's pace; every message must be flushed, none early.
    await expect.poll(() => flushes.reduce((n, f) => n + f.size, 0), { timeout: 5_000 }).toBe(50);
    await queue.whenIdle();
    expect(flushes.length).toBeGreaterThanOrEqual(10);
    for (const f of flushes) expect(f.at).toBeGreaterThanOrEqual(f.deadline);
    await queue.close();
  });
});
