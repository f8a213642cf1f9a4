import { describe, expect, it } from 'vitest';
import { api, key, startGateway, until } from './harness.js';

describe('operator actions over the admin API', () => {
  it('cancel aborts the in-flight batch promptly, it never replies, and the next batch runs', async () => {
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 30 } } });
    await chat.say('slow', 'first');
    const first = await processor.started(1);
    await chat.say('slow', 'second'); // waits behind the in-flight batch
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('slow')}`)).body.queuedBatches === 1);

    const res = await api(gw, 'POST', `/api/v1/channels/${key('slow')}/cancel`);
    expect(res).toMatchObject({ status: 200, body: { cancelled: true } });
    // Prompt means the processor's signal has fired by the time the 200 is answered; how many ms that
    // takes is a benchmark question, not something a loaded test machine can judge.
    expect(first.abortedAt).toBeDefined();

    const second = await processor.started(2);
    expect(second.texts).toEqual(['second']);
    second.release();
    await until(() => chat.sent.length === 1);
    // The cancelled batch tried to reply after its abort: wait until that reply is accounted for as
    // dropped, then check it was never delivered.
    await until(async () => (await api(gw, 'GET', '/api/v1/stats')).body.sinceStart.repliesDropped === 1, 10_000, 'the late reply dropped');
    expect(chat.sent.map((r) => r.text)).toEqual(['second']);
    const stats = await api(gw, 'GET', `/api/v1/channels/${key('slow')}`);
    expect(stats.body.counters).toMatchObject({ cancelled: 1, processed: 1, batches: 2 });
  });

  it('stop pauses the channel: nothing dispatches after the window closes, messages collect, resume runs them in order', async () => {
    // Batches seal by size under a long window, whatever the machine's pace; only 'e' seals by a short window.
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 60_000, maxBatchSize: 2 } } });
    await chat.say('p', 'running');
    await chat.say('p', 'along');
    const first = await processor.started(1);

    expect(await api(gw, 'POST', `/api/v1/channels/${key('p')}/stop`)).toMatchObject({ status: 200, body: { paused: true, cancelled: true } });
    expect(first.abortedAt).toBeDefined();
    for (const text of ['a', 'b', 'c', 'd']) await chat.say('p', text);
    await api(gw, 'PUT', `/api/v1/channels/${key('p')}/settings`, { windowMs: 30 });
    await chat.say('p', 'e');
    // Windows close (size 2 seals twice, the 30 ms window seals 'e'), yet nothing runs while paused. A
    // batch is dispatched as it seals, so once the last one sealed, a dispatch would already show.
    await until(async () => (await api(gw, 'GET', `/api/v1/channels/${key('p')}`)).body.queuedBatches === 3);
    const paused = await api(gw, 'GET', `/api/v1/channels/${key('p')}`);
    expect(paused.body).toMatchObject({ paused: true, processing: false, pending: 0, queuedBatches: 3, queuedMessages: 5 });
    expect(processor.calls).toHaveLength(1);

    processor.auto = true;
    expect(await api(gw, 'POST', `/api/v1/channels/${key('p')}/resume`)).toMatchObject({ status: 200, body: { paused: false } });
    await until(() => chat.sent.length === 3);
    expect(processor.calls.slice(1).map((c) => c.texts)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(chat.sent.map((r) => r.text)).toEqual(['a|b', 'c|d', 'e']);
  });

  it('clear reports how many messages went and none of them is ever dispatched', async () => {
    // Batches seal by size; the long window keeps 'open' open however long the calls take.
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 60_000, maxBatchSize: 2 } } });
    await chat.say('c', 'in');
    await chat.say('c', 'flight');
    const first = await processor.started(1);
    for (const text of ['q1', 'q2', 'q3', 'q4']) await chat.say('c', text); // two queued batches
    await chat.say('c', 'open'); // the open batch
    expect((await api(gw, 'GET', `/api/v1/channels/${key('c')}`)).body).toMatchObject({ pending: 1, queuedMessages: 4 });

    const res = await api(gw, 'DELETE', `/api/v1/channels/${key('c')}/queue`);
    expect(res).toMatchObject({ status: 200, body: { removed: 5 } });
    processor.auto = true;
    first.release();
    await chat.say('c', 'after');
    await chat.say('c', 'clear');
    // The channel runs its batches in order, so any cleared batch would have run before this one.
    await until(() => chat.sent.length === 2);
    expect(processor.calls.map((c) => c.texts)).toEqual([['in', 'flight'], ['after', 'clear']]);
    expect((await api(gw, 'GET', `/api/v1/channels/${key('c')}`)).body.counters).toMatchObject({ processed: 2, cleared: 5 });
  });

  it('a batch whose processor threw or timed out is listed at /api/v1/dead-letters with its messages, newest first', async () => {
    // The first batch seals by size (two messages, whatever the machine's pace); the next by a short window.
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 60_000, maxBatchSize: 2 } } });
    await chat.say('sick', 'deploy failed');
    await chat.say('sick', 'logs below');
    (await processor.started(1)).fail(new Error('LLM answered 500'));
    await api(gw, 'PUT', `/api/v1/channels/${key('sick')}/settings`, { processingTimeoutMs: 50, windowMs: 30 });
    await chat.say('sick', 'anyone?');
    await processor.started(2); // never released: the 50 ms timeout fails it
    await until(async () => (await api(gw, 'GET', '/api/v1/dead-letters')).body.deadLetters.length === 2);

    const { body } = await api(gw, 'GET', '/api/v1/dead-letters');
    const [timedOut, threw] = body.deadLetters;
    expect(timedOut).toMatchObject({ channelKey: 'chat:sick', error: 'processor passed its 50 ms timeout' });
    expect(timedOut.batch.messages.map((m: { text: string }) => m.text)).toEqual(['anyone?']);
    expect(threw).toMatchObject({ channelKey: 'chat:sick', error: 'LLM answered 500', batch: { channelKey: 'chat:sick' } });
    expect(threw.batch.messages.map((m: { text: string }) => m.text)).toEqual(['deploy failed', 'logs below']);
    expect(threw.failedAt).toBeLessThanOrEqual(timedOut.failedAt);
    expect((await api(gw, 'GET', '/api/v1/dead-letters?limit=1')).body.deadLetters).toHaveLength(1);
    expect((await api(gw, 'GET', `/api/v1/channels/${key('sick')}`)).body.counters).toMatchObject({ failed: 2 });
  });

  it('front: an injected message runs before the batches already waiting', async () => {
    const { gw, chat, processor } = await startGateway({ manual: true, batching: { defaults: { windowMs: 30, maxBatchSize: 1 } } });
    await chat.say('f', 'busy');
    const first = await processor.started(1);
    await chat.say('f', 'waiting 1');
    await chat.say('f', 'waiting 2');
    const res = await api(gw, 'POST', `/api/v1/channels/${key('f')}/messages`, { text: 'urgent', front: true, userName: 'Ops' });
    expect(res).toMatchObject({ status: 202, body: { accepted: true, channelKey: 'chat:f', front: true } });
    processor.auto = true;
    first.release();
    await until(() => chat.sent.length === 4);
    expect(processor.calls.map((c) => c.texts[0])).toEqual(['busy', 'urgent', 'waiting 1', 'waiting 2']);
    expect(processor.calls[1]!.batch.messages[0]).toMatchObject({ userId: 'admin', userName: 'Ops' });
  });

  it('settings changed over the API apply to the next window: a shorter window flushes sooner', async () => {
    const { gw, chat, processor } = await startGateway({ batching: { defaults: { windowMs: 60_000 } } });
    // The clock the gateway batches by: the epoch-anchored performance.now().
    const now = () => performance.timeOrigin + performance.now();
    const before = now();
    const slow = await chat.say('w', 'slow window');
    expect(slow).toMatchObject({ accepted: true, pending: 1 });
    expect(slow.accepted && slow.deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(processor.calls).toHaveLength(0);
    // The channel's override shortens its window: the open batch is re-timed and the next one uses it too.
    expect(await api(gw, 'PUT', `/api/v1/channels/${key('w')}/settings`, { windowMs: 40 })).toMatchObject({ status: 200, body: { override: { windowMs: 40 } } });
    await until(() => chat.sent.length === 1, 20_000);
    const next = await chat.say('w', 'next window');
    const after = now();
    // The new window governs: the batch is due 40 ms after its message, not 60 s.
    expect(next.accepted && next.deadline).toBeLessThanOrEqual(after + 40);
    await until(() => chat.sent.length === 2, 20_000);
    expect(processor.calls.map((c) => c.batch.flushReason)).toEqual(['window', 'window']);
    // Other channels keep the configured window.
    const beforeOther = now();
    const other = await chat.say('other', 'x');
    expect(other.accepted && other.deadline).toBeGreaterThanOrEqual(beforeOther + 60_000);
    expect(chat.sent).toHaveLength(2);
  });
});
