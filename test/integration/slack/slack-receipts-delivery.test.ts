import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { SlackReceipts, type ReactionApi } from '../../../adapters/slack/receipts.js';
import { AdapterError } from '../../../src/errors.js';
import type { QueueEvent } from '../../../src/core/events.js';
import type { OutboundMessage } from '../../../src/core/model.js';
import { silentLogger } from '../../../src/logger.js';
import { eventCallback, messageEvent, type FakeSlack, type FakeSlackCall } from '../../fakes/slack/index.js';
import { startSlackHarness, type SlackHarness } from './harness.js';

// ✅ means "your answer is in the channel": it must follow the post that delivered the batch's reply, never
// the processor returning (a 429 holds the post for seconds; a refused post never arrives).

const WAIT = { timeout: 10_000, interval: 20 };
const EYES = 'eyes';
const DONE = 'white_check_mark';

function reply(channelId: string, text: string, batchId: string, inReplyTo: string[]): OutboundMessage {
  return { platform: 'slack', channelId, text, batchId, inReplyTo };
}

function started(channel: string, batchId: string, messageIds: string[]): QueueEvent {
  return { type: 'batch.started', channelKey: `slack:${channel}`, batchId, at: Date.now(), size: messageIds.length, waitMs: 0, messageIds };
}

function completed(channel: string, batchId: string, replies: number): QueueEvent {
  return { type: 'batch.completed', channelKey: `slack:${channel}`, batchId, at: Date.now(), size: 1, durationMs: 1, replies };
}

/** Posts `texts` as one burst in `channel`, waits until each shows 👀, returns their message ids. */
async function burst(h: SlackHarness, channel: string, texts: string[]): Promise<string[]> {
  const before = h.accepted.length;
  for (const text of texts) expect((await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ channel, text })))).status).toBe(200);
  await vi.waitFor(() => expect(h.accepted.length).toBe(before + texts.length), WAIT);
  const ids = h.accepted.slice(before).map((m) => m.id);
  await vi.waitFor(() => expect(ids.map((id) => reactionsOf(h.fake, id))).toEqual(ids.map(() => [EYES])), WAIT);
  return ids;
}

function reactionsOf(fake: FakeSlack, id: string): string[] {
  const [channel = '', ts = ''] = id.split(':');
  return fake.reactionsOn(channel, ts);
}

/** Index in the fake's call log of the call adding ✅ to message `id` (-1 when there is none). */
function doneAddIndex(calls: FakeSlackCall[], id: string): number {
  const [channel, ts] = id.split(':');
  return calls.findIndex((c) => c.method === 'reactions.add' && c.args.name === DONE && c.args.channel === channel && c.args.timestamp === ts);
}

describe('slack receipts follow reply delivery', () => {
  it('a 429 on chat.postMessage: ✅ is added only after the post that succeeded, not when the batch completed', async () => {
    const h = await startSlackHarness();
    const channel = 'C0DLVR001';
    const ids = await burst(h, channel, ['a', 'b']);
    h.adapter.onQueueEvent(started(channel, 'b429', ids));
    // The processor returned: batch.completed comes first, the reply is still on its way.
    h.adapter.onQueueEvent(completed(channel, 'b429', 1));
    h.fake.failNextPost(429, 1);
    const sending = h.adapter.send(reply(channel, 'a\nb', 'b429', ids));

    // While the adapter waits out Retry-After, the receipts keep saying "seen, working on it".
    await vi.waitFor(() => expect(h.fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429]), WAIT);
    await h.adapter.idle();
    expect(ids.map((id) => reactionsOf(h.fake, id))).toEqual([[EYES], [EYES]]);

    await sending;
    await h.adapter.idle();
    expect(ids.map((id) => reactionsOf(h.fake, id))).toEqual([[DONE], [DONE]]);
    const calls = h.fake.calls;
    const posted = calls.findIndex((c) => c.method === 'chat.postMessage' && c.status === 200 && c.response.ok === true);
    expect(posted).toBeGreaterThan(-1);
    for (const id of ids) {
      const done = doneAddIndex(calls, id);
      expect(done).toBeGreaterThan(posted);
      expect(calls[done]!.at).toBeGreaterThanOrEqual(calls[posted]!.at);
    }
  });

  it('a post Slack refuses for good (channel_not_found): 👀 is removed and no ✅ is ever added', async () => {
    const h = await startSlackHarness();
    const channel = 'C0DLVR002';
    const ids = await burst(h, channel, ['lost']);
    h.adapter.onQueueEvent(started(channel, 'bgone', ids));
    h.adapter.onQueueEvent(completed(channel, 'bgone', 1));
    // An empty channel id is what makes the fake (like Slack for a channel the bot cannot see) answer channel_not_found.
    const err = await h.adapter.send(reply('', 'to nowhere', 'bgone', ids)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect((err as AdapterError).message).toMatch(/channel_not_found/);

    await h.adapter.idle();
    expect(reactionsOf(h.fake, ids[0]!)).toEqual([]);
    expect(h.fake.calls.filter((c) => c.method.startsWith('reactions.')).map((c) => [c.method, c.args.name, c.response.ok])).toEqual([
      ['reactions.add', EYES, true],
      ['reactions.remove', EYES, true],
    ]);
  });

  it('a split reply whose second part fails: no ✅ although the first part was posted', async () => {
    const h = await startSlackHarness({ adapter: { textLimit: 5 } });
    const channel = 'C0DLVR003';
    const ids = await burst(h, channel, ['x']);
    h.adapter.onQueueEvent(started(channel, 'bsplit', ids));
    h.adapter.onQueueEvent(completed(channel, 'bsplit', 1));
    h.fake.failNextPost(500, undefined, 1, 1);
    await expect(h.adapter.send(reply(channel, 'aaaa bbbb', 'bsplit', ids))).rejects.toBeInstanceOf(AdapterError);
    expect(h.fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([200, 500]);
    await h.adapter.idle();
    expect(reactionsOf(h.fake, ids[0]!)).toEqual([]);
    expect(doneAddIndex(h.fake.calls, ids[0]!)).toBe(-1);
  });

  it('a batch with two replies shows ✅ only after the second is posted; a batch with no reply shows ✅ when it completes', async () => {
    const h = await startSlackHarness();
    const channel = 'C0DLVR004';
    const [two = ''] = await burst(h, channel, ['two replies']);
    const [none = ''] = await burst(h, channel, ['no reply']);
    h.adapter.onQueueEvent(started(channel, 'btwo', [two]));
    h.adapter.onQueueEvent(completed(channel, 'btwo', 2));
    await h.adapter.send(reply(channel, 'first', 'btwo', [two]));
    await h.adapter.idle();
    expect(reactionsOf(h.fake, two)).toEqual([EYES]);
    await h.adapter.send(reply(channel, 'second', 'btwo', [two]));
    await h.adapter.idle();
    expect(reactionsOf(h.fake, two)).toEqual([DONE]);

    h.adapter.onQueueEvent(started(channel, 'bnone', [none]));
    h.adapter.onQueueEvent(completed(channel, 'bnone', 0));
    await h.adapter.idle();
    expect(reactionsOf(h.fake, none)).toEqual([DONE]);
  });
});

/** A ReactionApi that records calls and keeps reaction state like Slack (no I/O). */
function recordingApi(): ReactionApi & { calls: string[]; on: (id: string) => string[] } {
  const state = new Map<string, Set<string>>();
  const calls: string[] = [];
  const set = (channel: string, ts: string) => state.get(`${channel}:${ts}`) ?? state.set(`${channel}:${ts}`, new Set()).get(`${channel}:${ts}`)!;
  return {
    calls,
    on: (id) => [...(state.get(id) ?? [])],
    add: async (channel, ts, name) => {
      calls.push(`add ${name} ${channel}:${ts}`);
      set(channel, ts).add(name);
    },
    remove: async (channel, ts, name) => {
      calls.push(`remove ${name} ${channel}:${ts}`);
      set(channel, ts).delete(name);
    },
  };
}

describe('SlackReceipts delivery bookkeeping (bounded)', () => {
  function receipts(options: { now?: () => number; deliveryTimeoutMs?: number; maxTracked?: number } = {}) {
    const api = recordingApi();
    const r = new SlackReceipts({ receiptReaction: EYES, doneReaction: DONE, api, logger: silentLogger(), ...options });
    onTestFinished(() => r.close());
    return { api, r };
  }

  it('a completed batch whose reply never reports back loses its 👀 after the delivery timeout (no ✅), even with no further traffic', async () => {
    const { api, r } = receipts({ deliveryTimeoutMs: 100 });
    const id = 'C0EXP0001:1700000000.000100';
    r.onAccepted(id, true);
    r.onQueueEvent(started('C0EXP0001', 'blost', [id]));
    r.onQueueEvent(completed('C0EXP0001', 'blost', 1));
    await r.idle();
    expect(api.on(id)).toEqual([EYES]);
    await vi.waitFor(() => expect(r.trackedDeliveries).toBe(0), WAIT);
    await r.idle();
    expect(api.on(id)).toEqual([]);
    expect(api.calls).toEqual([`add ${EYES} ${id}`, `remove ${EYES} ${id}`]);
    // A report that comes after all changes nothing.
    r.onDelivered('blost');
    await r.idle();
    expect(api.calls).toHaveLength(2);
  });

  it('deliveries counted ahead of batch.completed expire when the event never comes; the map stays under its cap', async () => {
    let now = 1_000_000;
    const { api, r } = receipts({ now: () => now, deliveryTimeoutMs: 600_000, maxTracked: 50 });
    for (let i = 0; i < 200; i++) r.onDelivered(`orphan-${i}`);
    expect(r.trackedDeliveries).toBe(50);
    now += 600_000;
    r.onDelivered('fresh');
    expect(r.trackedDeliveries).toBe(1);
    await r.idle();
    expect(api.calls).toEqual([]);
  });

  it('a reply reported before batch.completed finishes the batch the moment the event arrives', async () => {
    const { api, r } = receipts();
    const id = 'C0EARLY01:1700000000.000200';
    r.onAccepted(id, true);
    r.onQueueEvent(started('C0EARLY01', 'bearly', [id]));
    r.onDelivered('bearly');
    await r.idle();
    expect(api.on(id)).toEqual([EYES]);
    r.onQueueEvent(completed('C0EARLY01', 'bearly', 1));
    await r.idle();
    expect(api.on(id)).toEqual([DONE]);
    expect(r.trackedDeliveries).toBe(0);
  });

  it('a failure reported before batch.completed: the batch ends without ✅ when the event arrives', async () => {
    const { api, r } = receipts();
    const id = 'C0EARLY02:1700000000.000300';
    r.onAccepted(id, true);
    r.onQueueEvent(started('C0EARLY02', 'bfail', [id]));
    r.onDelivered('bfail');
    r.onUndelivered('bfail');
    r.onQueueEvent(completed('C0EARLY02', 'bfail', 2));
    await r.idle();
    expect(api.on(id)).toEqual([]);
    expect(api.calls).toEqual([`add ${EYES} ${id}`, `remove ${EYES} ${id}`]);
  });
});
