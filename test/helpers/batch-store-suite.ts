import { describe, expect, it } from 'vitest';
import type { BatchStore } from '../../src/core/batch-store.js';
import { QueueEventType, type QueueEvent } from '../../src/core/events.js';
import { MessageBatch, type QueuedMessage } from '../../src/core/model.js';
import { SettingsPolicy, type ChannelSettings } from '../../src/core/policy.js';

let messages = 0;

/** A message of channel `p:<channelId>`; ids are unique unless given. */
export function storeMessage(channelId: string, text: string, id = `s${++messages}`): QueuedMessage {
  return { id, platform: 'p', channelId, userId: 'u', userName: 'U', text, queuedAt: 0, extra: {} };
}

export type StoreFactory = (emit: (e: QueueEvent) => void, policy: SettingsPolicy) => BatchStore | Promise<BatchStore>;

/**
 * The behaviour every BatchStore must show, whatever holds the state (memory now, Redis later). Each step
 * is driven with explicit times so the suite needs no timers.
 */
export function describeBatchStore(name: string, factory: StoreFactory): void {
  describe(`BatchStore contract: ${name}`, () => {
    const msg = storeMessage;
    const make = async (settings: Partial<ChannelSettings> = {}) => {
      const events: QueueEvent[] = [];
      const store = await factory((e) => events.push(e), new SettingsPolicy({ windowMs: 100, maxWaitMs: 1_000, ...settings }));
      return { store, events };
    };

    it('append opens a window whose deadline slides and is capped by maxWait', async () => {
      const { store } = await make({ maxBatchSize: 100 });
      const a = await store.append(msg('c', 'a'), 0);
      expect(a).toMatchObject({ status: 'open', pending: 1, deadline: 100 });
      const b = await store.append(msg('c', 'b'), 90);
      expect(b).toMatchObject({ status: 'open', pending: 2, deadline: 190 });
      for (let t = 180; t <= 990; t += 90) await store.append(msg('c', 'x'), t);
      const last = await store.append(msg('c', 'y'), 995);
      expect(last).toMatchObject({ status: 'open', deadline: 1_000 });
    });

    it('sealDue seals only due windows, never early, with the right reason', async () => {
      const { store, events } = await make();
      await store.append(msg('early', 'a'), 0);
      await store.append(msg('late', 'b'), 50);
      expect(await store.nextDeadline()).toBe(100);
      expect(await store.sealDue(99, 100)).toEqual([]);
      const sealed = await store.sealDue(120, 100);
      expect(sealed.map((s) => [s.channelKey, s.reason])).toEqual([['p:early', 'window']]);
      expect(await store.nextDeadline()).toBe(150);
      const flushed = events.filter((e) => e.type === QueueEventType.Flushed);
      expect(flushed[0]).toMatchObject({ deadline: 100, latenessMs: 20 });
    });

    it('size cap seals inside append', async () => {
      const { store } = await make({ maxBatchSize: 2 });
      await store.append(msg('c', 'a'), 0);
      const r = await store.append(msg('c', 'b'), 1);
      expect(r).toMatchObject({ status: 'sealed', sealed: { reason: 'size', size: 2 } });
    });

    it('take hands out one batch at a time per channel, in order', async () => {
      const { store } = await make({ disabled: true });
      for (const t of ['1', '2', '3']) await store.append(msg('c', t), 0);
      const first = await store.take('p:c', 1);
      expect(first?.batch.messages.map((m) => m.text)).toEqual(['1']);
      expect(await store.take('p:c', 1)).toBeNull();
      const done = await store.finish('p:c', first!.batch.id, 'processed', 2);
      expect(done.current).toBe(true);
      expect(done.nextSeq).not.toBeNull();
      expect((await store.take('p:c', 3))?.batch.messages[0]?.text).toBe('2');
      expect((await store.finish('p:c', first!.batch.id, 'processed', 4)).current).toBe(false); // stale
    });

    it('pause blocks take; resume reports the next batch', async () => {
      const { store } = await make({ disabled: true });
      await store.append(msg('c', '1'), 0);
      expect(await store.pause('p:c', 0)).toBe(true);
      expect(await store.take('p:c', 0)).toBeNull();
      expect((await store.resume('p:c', 0))?.nextSeq).not.toBeNull();
      expect(await store.take('p:c', 0)).not.toBeNull();
      expect(await store.pause('p:unknown', 0)).toBe(false);
    });

    it('pushFront goes ahead of waiting batches, interrupt merges the in-flight batch in front', async () => {
      const { store } = await make({ disabled: true });
      await store.append(msg('c', 'A'), 0);
      await store.append(msg('c', 'B'), 0);
      const a = (await store.take('p:c', 0))!;
      await store.pushFront('p:c', msg('c', 'X'), 1);
      expect((await store.stats('p:c'))?.queuedBatches).toBe(2);
      const r = await store.interrupt('p:c', a.batch.id, 2);
      expect(r.current).toBe(true);
      const merged = (await store.take('p:c', 3))!;
      expect(merged.batch.messages.map((m) => m.text)).toEqual(['A', 'X', 'B']);
      expect(merged.attempt).toBe(2);
    });

    it('release puts an aborted batch back at the front; drainWaiting returns everything waiting in order', async () => {
      const { store } = await make({ disabled: true });
      await store.append(msg('c', '1'), 0);
      await store.append(msg('c', '2'), 0);
      await store.append(msg('d', 'open'), 0);
      const one = (await store.take('p:c', 0))!;
      await store.release('p:c', one.batch.id, 1);
      await store.setOverride('p:d', { disabled: false, maxBatchSize: 100 }, 1);
      await store.append(msg('d', 'still open'), 1);
      const waiting = await store.drainWaiting();
      expect(waiting.map((b) => b.messages.map((m) => m.text))).toEqual([['1'], ['2'], ['open'], ['still open']]);
      expect(await store.stats('p:c')).toMatchObject({ queuedBatches: 0, pending: 0 });
    });

    it('clear removes open and queued messages, not the one in flight', async () => {
      const { store } = await make();
      await store.append(msg('c', 'a'), 0);
      await store.sealDue(100, 10);
      const inflight = await store.take('p:c', 100);
      await store.append(msg('c', 'b'), 101);
      await store.sealDue(201, 10);
      await store.append(msg('c', 'c'), 202);
      expect(await store.clear('p:c', 203)).toBe(2);
      expect(await store.stats('p:c')).toMatchObject({ processing: true, pending: 0, queuedBatches: 0 });
      await store.finish('p:c', inflight!.batch.id, 'processed', 204);
    });

    it('overrides re-time an open window and persist until deleted', async () => {
      const { store } = await make();
      await store.append(msg('c', 'a'), 0);
      const r = await store.setOverride('p:c', { windowMs: 10 }, 1);
      expect(r.deadline).toBe(10);
      expect(await store.getOverride('p:c')).toEqual({ windowMs: 10 });
      expect((await store.settings('p:c')).windowMs).toBe(10);
      await store.deleteOverride('p:c', 2);
      expect(await store.getOverride('p:c')).toBeNull();
    });

    it('restore queues sealed batches behind what waits', async () => {
      const { store } = await make();
      const batch = new MessageBatch('p:r', { messages: [msg('r', 'spooled')] });
      batch.flushReason = 'shutdown';
      const [s] = await store.restore([batch], 0);
      expect(s).toMatchObject({ channelKey: 'p:r', size: 1 });
      expect((await store.take('p:r', 0))?.batch.id).toBe(batch.id);
    });

    it('overflow merge: at the bound every waiting batch becomes one, nothing lost', async () => {
      const { store, events } = await make({ disabled: true, maxQueuedBatches: 2, overflow: 'merge' });
      for (const t of ['1', '2', '3']) await store.append(msg('c', t), 0);
      expect(await store.stats('p:c')).toMatchObject({ queuedBatches: 2, queuedMessages: 3 });
      const head = await store.take('p:c', 1);
      expect(head?.batch.messages.map((m) => m.text)).toEqual(['1', '2']);
      // The merge is reported with the batch it made, so the channel's timeline can say so.
      expect(events.filter((e) => e.type === QueueEventType.Merged)).toEqual([expect.objectContaining({ channelKey: 'p:c', batchId: head!.batch.id, size: 2, batches: 2 })]);
    });

    it('every accepted message is reported as appended, opened when it started its batch', async () => {
      const { store, events } = await make({ maxBatchSize: 3 });
      for (const [id, t] of [['m1', 0], ['m2', 10], ['m3', 20], ['m4', 30]] as const) await store.append(msg('c', id, id), t);
      const appended = events.filter((e) => e.type === QueueEventType.Appended);
      expect(appended.map((e) => [e.messageId, e.opened])).toEqual([['m1', true], ['m2', false], ['m3', false], ['m4', true]]);
      const sealed = events.find((e) => e.type === QueueEventType.Flushed)!;
      // The first three share the batch the size cap sealed; the fourth opened the next one, whose window is armed.
      expect(new Set(appended.slice(0, 3).map((e) => e.batchId))).toEqual(new Set([sealed.type === QueueEventType.Flushed ? sealed.batchId : '']));
      expect(appended[3]).toMatchObject({ deadline: 130 });
      expect(appended[3]!.batchId).not.toBe(appended[0]!.batchId);
      // Appended comes before the seal it caused.
      expect(events.findIndex((e) => e.type === QueueEventType.Flushed)).toBeGreaterThan(events.indexOf(appended[2]!));
    });

    it('overflow drop-oldest: the oldest waiting batch goes, counted and reported', async () => {
      const { store, events } = await make({ disabled: true, maxQueuedBatches: 2, overflow: 'drop-oldest' });
      const first = await store.append(msg('c', '1'), 0);
      for (const t of ['2', '3']) await store.append(msg('c', t), 0);
      const dropped = events.filter((e) => e.type === QueueEventType.Dropped);
      expect(dropped).toEqual([
        expect.objectContaining({ channelKey: 'p:c', count: 1, reason: 'overflow', batchId: first.status === 'sealed' ? first.sealed.batchId : '' }),
      ]);
      expect((await store.stats('p:c'))?.counters).toMatchObject({ received: 3, dropped: 1 });
      expect((await store.take('p:c', 1))?.batch.messages[0]?.text).toBe('2');
    });

    it('overflow reject: a message that finds the queue full is refused, counted and reported', async () => {
      const { store, events } = await make({ disabled: true, maxQueuedBatches: 1, overflow: 'reject' });
      expect((await store.append(msg('c', '1'), 0)).status).toBe('sealed');
      expect(await store.append(msg('c', '2'), 1)).toMatchObject({ status: 'rejected', reason: 'queue full' });
      expect(events.filter((e) => e.type === QueueEventType.Dropped)).toEqual([expect.objectContaining({ count: 1, reason: 'rejected' })]);
      expect(await store.stats('p:c')).toMatchObject({ queuedBatches: 1, counters: { received: 2, dropped: 1 } });
    });

    it('queue warnings fire once per crossing of queueWarnRatio', async () => {
      const { store, events } = await make({ disabled: true, maxQueuedBatches: 4 });
      for (const t of ['1', '2', '3', '4']) await store.append(msg('c', t), 0);
      const warns = () => events.filter((e) => e.type === QueueEventType.OverWarn || e.type === QueueEventType.UnderWarn);
      expect(warns()).toEqual([expect.objectContaining({ type: QueueEventType.OverWarn, queuedBatches: 3, limit: 4 })]);
      const a = (await store.take('p:c', 1))!;
      await store.finish('p:c', a.batch.id, 'processed', 2);
      await store.take('p:c', 3);
      expect(warns().map((e) => e.type)).toEqual([QueueEventType.OverWarn, QueueEventType.UnderWarn]);
    });

    it('disarm drops the deadline until the next message re-arms it', async () => {
      const { store } = await make();
      await store.append(msg('c', 'a'), 0);
      expect(await store.disarm('p:c')).toBe(true);
      expect(await store.nextDeadline()).toBeNull();
      expect(await store.sealDue(500, 10)).toEqual([]);
      expect(await store.append(msg('c', 'b'), 600)).toMatchObject({ status: 'open', pending: 2, deadline: 700 });
      expect(await store.disarm('p:unknown')).toBe(false);
    });

    it('typing by an author of the open batch holds it for typingHoldMs, capped by maxWait; it never opens one', async () => {
      const { store, events } = await make({ windowMs: 100, maxWaitMs: 1_000, maxBatchSize: 100, typingHoldMs: 300 });
      expect(await store.typing('p:c', 'u', 0)).toBeNull();
      expect(await store.stats('p:c')).toBeNull();
      await store.append(msg('c', 'a'), 0);
      // Someone who wrote nothing in the batch does not hold it.
      expect(await store.typing('p:c', 'someone-else', 10)).toBeNull();
      expect(await store.typing('p:c', 'u', 50)).toBe(350);
      expect(await store.sealDue(349, 10)).toEqual([]);
      expect(await store.typing('p:c', 'u', 900)).toBe(1_000);
      const held = events.filter((e) => e.type === QueueEventType.Held);
      expect(held.map((e) => [e.reason, e.deadline])).toEqual([['typing', 350], ['typing', 1_000]]);
      expect((await store.sealDue(1_000, 10)).map((s) => [s.size, s.reason])).toEqual([[1, 'maxWait']]);
      expect(await store.typing('p:c', 'u', 1_001)).toBeNull();
    });

    it('an open code fence holds the batch for hold.holdMs until a later message closes it', async () => {
      const hold = { rules: ['openFence', 'trailingColon', 'ellipsis', 'phrases'] as const, holdMs: 500, phrases: ['one sec'] };
      const { store, events } = await make({ windowMs: 100, maxWaitMs: 10_000, maxBatchSize: 100, hold: { ...hold, rules: [...hold.rules] } });
      expect(await store.append(msg('c', 'here is the trace ```js'), 0)).toMatchObject({ status: 'open', deadline: 500 });
      expect(await store.append(msg('c', 'at foo (bar.js:1)'), 100)).toMatchObject({ status: 'open', deadline: 600 });
      expect(await store.sealDue(599, 10)).toEqual([]);
      expect(await store.append(msg('c', '``` that is all'), 200)).toMatchObject({ status: 'open', deadline: 300 });
      const held = events.filter((e) => e.type === QueueEventType.Held);
      expect(held.map((e) => [e.reason, e.deadline])).toEqual([['openFence', 500], ['openFence', 600]]);
      expect((await store.sealDue(300, 10)).map((s) => [s.size, s.reason])).toEqual([[3, 'window']]);
      // The parity went with its batch: one fence in the next batch opens a block again.
      expect(await store.append(msg('c', '```'), 400)).toMatchObject({ status: 'open', deadline: 900 });
    });

    it('a latest message ending in a colon, an ellipsis or a phrase holds the batch; any other ends the hold', async () => {
      const { store, events } = await make({ windowMs: 100, maxWaitMs: 10_000, maxBatchSize: 100, hold: { rules: ['openFence', 'trailingColon', 'ellipsis', 'phrases'], holdMs: 500, phrases: ['logs below', 'one sec', 'wait'] } });
      const cases: Array<[string, string | null]> = [
        ['logs below:', 'trailingColon'],
        ['so then...', 'ellipsis'],
        ['and…', 'ellipsis'],
        ['One sec!', 'phrase'],
        ['logs below', 'phrase'],
        ['ok wait.', 'phrase'],
        ['awaiting', null],
        ['all done', null],
      ];
      for (const [i, [text, reason]] of cases.entries()) {
        const r = await store.append(msg(`k${i}`, text), 0);
        expect([text, r]).toMatchObject([text, { status: 'open', deadline: reason === null ? 100 : 500 }]);
      }
      const held = events.filter((e) => e.type === QueueEventType.Held);
      expect(held.map((e) => [e.channelKey, e.reason])).toEqual(cases.flatMap(([, reason], i) => (reason === null ? [] : [[`p:k${i}`, reason]])));
      // A later message that looks finished ends the hold: the plain window again.
      expect(await store.append(msg('k0', 'here they are'), 50)).toMatchObject({ status: 'open', deadline: 150 });
      // maxWaitMs caps a hold.
      const { store: capped } = await make({ windowMs: 100, maxWaitMs: 300, maxBatchSize: 100 });
      expect(await capped.append(msg('c', 'logs below:'), 0)).toMatchObject({ status: 'open', deadline: 300 });
    });

    it('hold: { rules: [] } turns content holds off', async () => {
      const { store, events } = await make({ hold: { rules: [], holdMs: 500, phrases: ['wait'] } });
      expect(await store.append(msg('c', '```logs below:'), 0)).toMatchObject({ status: 'open', deadline: 100 });
      expect(events.filter((e) => e.type === QueueEventType.Held)).toEqual([]);
    });

    it('a message matching flushOn seals its batch at once with flushReason keyword', async () => {
      const { store, events } = await make({ maxBatchSize: 100, flushOn: ['done', '/^go!?$/i'] });
      expect(await store.append(msg('c', 'first'), 0)).toMatchObject({ status: 'open' });
      expect(await store.append(msg('c', 'undone is not a keyword'), 1)).toMatchObject({ status: 'open', pending: 2 });
      expect(await store.append(msg('c', 'ok, Done.'), 2)).toMatchObject({ status: 'sealed', sealed: { reason: 'keyword', size: 3 } });
      expect(await store.append(msg('c', 'GO!'), 3)).toMatchObject({ status: 'sealed', sealed: { reason: 'keyword', size: 1 } });
      const flushed = events.filter((e) => e.type === QueueEventType.Flushed);
      expect(flushed.map((e) => [e.reason, e.size])).toEqual([['keyword', 3], ['keyword', 1]]);
    });

    it('typingHoldMs 0 ignores typing', async () => {
      const { store, events } = await make({ typingHoldMs: 0 });
      await store.append(msg('c', 'a'), 0);
      expect(await store.typing('p:c', 'u', 10)).toBeNull();
      expect(events.filter((e) => e.type === QueueEventType.Held)).toEqual([]);
      expect((await store.sealDue(100, 10)).map((s) => s.reason)).toEqual(['window']);
    });

    it('hold keeps an open batch open past its window, capped by maxWait, and never opens one', async () => {
      const { store } = await make({ windowMs: 100, maxWaitMs: 1_000, maxBatchSize: 100 });
      expect(await store.hold('p:c', 500, 0)).toBeNull();
      expect(await store.stats('p:c')).toBeNull();
      await store.append(msg('c', 'a'), 0);
      expect(await store.hold('p:c', 300, 10)).toBe(310);
      expect(await store.sealDue(200, 10)).toEqual([]);
      // A message inside the hold slides the window, but never below the hold.
      expect(await store.append(msg('c', 'b'), 150)).toMatchObject({ status: 'open', pending: 2, deadline: 310 });
      expect(await store.append(msg('c', 'c'), 290)).toMatchObject({ status: 'open', pending: 3, deadline: 390 });
      // A shorter hold never brings the deadline forward.
      expect(await store.hold('p:c', 10, 300)).toBe(390);
      expect(await store.hold('p:c', 5_000, 300)).toBe(1_000);
      expect(await store.sealDue(999, 10)).toEqual([]);
      expect((await store.sealDue(1_000, 10)).map((s) => [s.size, s.reason])).toEqual([[3, 'maxWait']]);
      // The hold went with its batch: the next one has a plain window.
      expect(await store.append(msg('c', 'd'), 1_100)).toMatchObject({ status: 'open', deadline: 1_200 });
      expect((await store.sealDue(1_200, 10)).map((s) => [s.size, s.reason])).toEqual([[1, 'window']]);
      expect(await store.hold('p:c', 500, 1_300)).toBeNull();
      // A disarmed batch stays disarmed.
      await store.append(msg('c', 'e'), 1_400);
      await store.disarm('p:c');
      expect(await store.hold('p:c', 500, 1_400)).toBeNull();
      expect(await store.nextDeadline()).toBeNull();
    });

    it('seal and sealAll close open windows at once', async () => {
      const { store, events } = await make();
      await store.append(msg('c', 'a'), 0);
      await store.append(msg('d', 'b'), 0);
      expect(await store.seal('p:c', 'admin', 5)).toMatchObject({ channelKey: 'p:c', reason: 'admin', size: 1 });
      expect(events.at(-1)).toMatchObject({ type: QueueEventType.Flushed, reason: 'admin', deadline: 5, latenessMs: 0 });
      expect(await store.seal('p:c', 'admin', 6)).toBeNull();
      expect((await store.sealAll('shutdown', 7)).map((s) => [s.channelKey, s.reason])).toEqual([['p:d', 'shutdown']]);
      expect(await store.stats('p:d')).toMatchObject({ pending: 0, queuedBatches: 1, deadline: null });
    });

    it('stats and list show what waits, what runs and the settings in force', async () => {
      const { store } = await make({ disabled: true });
      await store.append(msg('c', '1'), 0);
      await store.append(msg('c', '2'), 0);
      const running = (await store.take('p:c', 10))!;
      await store.setOverride('p:d', { disabled: false, windowMs: 50 }, 11);
      await store.append(msg('d', 'x'), 12);
      expect(await store.stats('p:c')).toMatchObject({
        key: 'p:c',
        platform: 'p',
        channelId: 'c',
        pending: 0,
        queuedBatches: 1,
        queuedMessages: 1,
        processing: true,
        inFlight: { batchId: running.batch.id, size: 1, startedAt: 10 },
        deadline: null,
        active: true,
      });
      expect(await store.stats('p:d')).toMatchObject({ pending: 1, deadline: 62, processing: false, inFlight: null, settings: { windowMs: 50 } });
      expect((await store.list()).map((s) => s.key).sort()).toEqual(['p:c', 'p:d']);
      expect(store.activeChannels()).toBe(2);
    });

    it('an idle channel is dropped but its counters stay readable', async () => {
      const { store } = await make({ disabled: true });
      await store.append(msg('c', 'a'), 0);
      const t = (await store.take('p:c', 0))!;
      await store.finish('p:c', t.batch.id, 'processed', 1);
      expect(store.activeChannels()).toBe(0);
      expect(await store.stats('p:c')).toMatchObject({ active: false, counters: { received: 1, batches: 1, processed: 1 } });
      expect(await store.stats('p:never')).toBeNull();
      // An operator can still stop (and resume) a channel that just went quiet.
      expect(await store.pause('p:c', 2)).toBe(true);
      expect(await store.stats('p:c')).toMatchObject({ active: true, paused: true, counters: { received: 1 } });
      expect((await store.resume('p:c', 3))?.nextSeq).toBeNull();
      expect(store.activeChannels()).toBe(0);
    });
  });
}
