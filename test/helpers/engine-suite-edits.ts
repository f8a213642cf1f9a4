import { describe, expect, it } from 'vitest';
import { ErrorCode, type GatewayError } from '../../src/errors.js';
import { QueueEventType } from '../../src/core/events.js';
import type { EngineHarness, HarnessOptions } from './engine-suite.js';

/** A window that never closes within a case: batches seal only through `flush`. */
const LONG = { windowMs: 60_000, maxWaitMs: 120_000, maxBatchSize: 10 } as const;

/**
 * Edits and deletes, part of the engine contract (both engines): where the message is when it changes
 * (open, queued, in flight, answered) and what each mode does with it.
 */
export function describeEditCases(make: (options?: HarnessOptions) => Promise<EngineHarness>): void {
  describe('edits and deletes', () => {
    it('an edit of a message in the open batch changes it in place, order kept, editedAt set', async () => {
      const h = await make({ settings: LONG });
      await h.send('room', 'one', 'm1');
      await h.send('room', 'tow', 'm2');
      await h.send('room', 'three', 'm3');
      expect(await h.engine.edit(h.key('room'), 'm2', 'two')).toEqual({ applied: 'pending' });
      await h.engine.flush(h.key('room'));
      const run = await h.run(0);
      expect(run.texts).toEqual(['one', 'two', 'three']);
      expect(run.batch.messages[1]!.editedAt).toEqual(expect.any(Number));
      expect(run.batch.messages[0]!.editedAt).toBeUndefined();
      expect(h.eventsOf(QueueEventType.Edited)).toEqual([expect.objectContaining({ channelKey: h.key('room'), messageId: 'm2', applied: 'pending' })]);
    });

    it('a delete removes the message from its waiting batch; a batch left empty disappears', async () => {
      const h = await make({ settings: LONG });
      h.hold(true);
      await h.send('room', 'first', 'a');
      await h.engine.flush(h.key('room'));
      const first = await h.run(0);
      await h.send('room', 'lonely', 'b');
      await h.engine.flush(h.key('room'));
      await h.send('room', 'keep', 'c');
      await h.send('room', 'oops', 'd');
      await h.engine.flush(h.key('room'));
      expect(await h.engine.remove(h.key('room'), 'b')).toEqual({ applied: 'pending' });
      expect(await h.engine.remove(h.key('room'), 'd')).toEqual({ applied: 'pending' });
      expect(await h.engine.stats(h.key('room'))).toMatchObject({ queuedBatches: 1, queuedMessages: 1 });
      h.hold(false);
      first.finish();
      await h.waitReplies(2);
      expect(h.runs.map((r) => r.texts)).toEqual([['first'], ['keep']]);
      expect(h.eventsOf(QueueEventType.Deleted).map((e) => [e.messageId, e.applied])).toEqual([['b', 'pending'], ['d', 'pending']]);
    });

    it('deleting the only message of the open batch leaves nothing pending', async () => {
      const h = await make({ settings: LONG });
      await h.send('room', 'gone', 'g');
      expect(await h.engine.remove(h.key('room'), 'g')).toEqual({ applied: 'pending' });
      expect(await h.engine.stats(h.key('room'))).toMatchObject({ pending: 0, deadline: null });
      expect(await h.engine.flush(h.key('room'))).toBe(false);
      expect(h.runs).toHaveLength(0);
    });

    it('interrupt mode: an edit of a message in flight cancels the run (reason edit) and re-runs it with the new text', async () => {
      const h = await make({ settings: { ...LONG, mode: 'interrupt' } });
      h.hold((batch) => batch.messages.every((m) => m.editedAt === undefined));
      await h.send('room', 'deploy prod', 'p1');
      await h.send('room', 'now', 'p2');
      await h.engine.flush(h.key('room'));
      const first = await h.run(0);
      expect(await h.engine.edit(h.key('room'), 'p1', 'deploy staging')).toEqual({ applied: 'in-flight' });
      const reason = (await first.aborted) as GatewayError;
      expect([reason.code, reason.details.reason]).toEqual([ErrorCode.Cancelled, 'edit']);
      const second = await h.run(1);
      expect(second.texts).toEqual(['deploy staging', 'now']);
      expect(second.attempt).toBe(2);
      await h.waitReplies(1);
      expect(h.replies.map((r) => r.text)).toEqual(['deploy staging+now']);
      expect(await first.reply('stale')).toBe(false);
      await h.waitEvent(QueueEventType.Cancelled, (e) => e.reason === 'edit');
    });

    it('interrupt mode: deleting a message in flight re-runs the batch without it', async () => {
      const h = await make({ settings: { ...LONG, mode: 'interrupt' } });
      h.hold((batch) => batch.size === 2);
      await h.send('room', 'keep', 'k');
      await h.send('room', 'drop', 'd');
      await h.engine.flush(h.key('room'));
      const first = await h.run(0);
      expect(await h.engine.remove(h.key('room'), 'd')).toEqual({ applied: 'in-flight' });
      await first.aborted;
      const second = await h.run(1);
      expect(second.texts).toEqual(['keep']);
      await h.waitReplies(1);
    });

    it('queue mode: an edit of a message in flight runs the edited message as the next batch, marked edited', async () => {
      const h = await make({ settings: LONG });
      h.hold((batch) => batch.messages.every((m) => m.edited !== true));
      await h.send('room', 'teh plan', 'q1');
      await h.engine.flush(h.key('room'));
      const first = await h.run(0);
      await h.send('room', 'later', 'q2');
      await h.engine.flush(h.key('room'));
      expect(await h.engine.edit(h.key('room'), 'q1', 'the plan')).toEqual({ applied: 'in-flight' });
      expect(first.ctx.signal.aborted).toBe(false);
      h.hold(false);
      first.finish();
      await h.waitReplies(3);
      expect(h.runs.map((r) => r.texts)).toEqual([['teh plan'], ['the plan'], ['later']]);
      expect(h.runs[1]!.batch.messages[0]).toMatchObject({ id: 'q1', edited: true, editedAt: expect.any(Number) });
    });

    it('an edit of an answered message is ignored (done) unless editAfterReply: followUp runs it as a new batch', async () => {
      const h = await make({ settings: { ...LONG } });
      await h.send('room', 'answered', 'x1');
      await h.engine.flush(h.key('room'));
      await h.waitReplies(1);
      await h.waitEvent(QueueEventType.Completed);
      expect(await h.engine.edit(h.key('room'), 'x1', 'answered, edited')).toEqual({ applied: 'done' });
      expect(await h.engine.remove(h.key('room'), 'x1')).toEqual({ applied: 'done' });
      expect(await h.engine.edit(h.key('room'), 'never-seen', 'what')).toEqual({ applied: 'unknown' });
      await h.engine.setSettings(h.key('room'), { editAfterReply: 'followUp' });
      expect(await h.engine.edit(h.key('room'), 'x1', 'answered, edited', { userId: 'u', userName: 'U' })).toEqual({ applied: 'done' });
      await h.waitReplies(2);
      expect(h.runs.map((r) => r.texts)).toEqual([['answered'], ['answered, edited']]);
      expect(h.runs[1]!.batch.messages[0]).toMatchObject({ id: 'x1', edited: true });
    });
  });
}
