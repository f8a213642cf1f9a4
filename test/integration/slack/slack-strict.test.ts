import { webApi } from '@slack/bolt';
import { describe, expect, it, vi } from 'vitest';
import { SLACK_METHOD_SCOPES } from '../../../adapters/slack/index.js';
import { AdapterError } from '../../../src/errors.js';
import { eventCallback, messageEvent, nextTs } from '../../fakes/slack/index.js';
import { startSlackHarness } from './harness.js';

const WAIT = { timeout: 20_000, interval: 20 };

describe('slack adapter against a fake as strict as Slack', () => {
  it('Socket Mode: each envelope is acked without waiting for accept, so Slack never redelivers', { timeout: 45_000 }, async () => {
    // A roomy deadline: what is checked is that the ack does not wait for accept, not how fast it is.
    const h = await startSlackHarness({ mode: 'socket', fake: { ackTimeoutMs: 10_000 } });
    let release!: () => void;
    h.holdAccept = new Promise<void>((resolve) => (release = resolve));
    const ids = ['one', 'two'].map((text) => h.fake.sendEnvelope(eventCallback(messageEvent({ text }))));
    // Settles when every envelope was acked or the fake redelivered one, whichever comes first.
    await vi.waitFor(() => expect(ids.every((id) => h.fake.acks.includes(id)) || h.fake.redeliveries.length > 0).toBe(true), WAIT);
    expect(h.fake.redeliveries).toEqual([]);
    release();
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toEqual(['one', 'two']), WAIT);
  });

  it('Socket Mode: an ack lost on the way makes Slack resend the event in a new envelope; the adapter acks it and hands the message over once', async () => {
    const h = await startSlackHarness({ mode: 'socket' });
    h.fake.loseAcks(1);
    const body = eventCallback(messageEvent({ text: 'only once' }));
    h.fake.sendEnvelope(body);
    await vi.waitFor(() => expect(h.fake.redeliveries.find((r) => r.eventId === body.event_id)).toBeDefined(), WAIT);
    const redelivery = h.fake.redeliveries.find((r) => r.eventId === body.event_id);
    expect(redelivery).toMatchObject({ transport: 'socket', eventId: body.event_id, attempt: 1, reason: 'timeout' });
    await vi.waitFor(() => expect(h.fake.acks).toContain(redelivery!.envelopeId), WAIT);
    h.fake.sendEnvelope(eventCallback(messageEvent({ text: 'sentinel' })));
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toContain('sentinel'), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['only once', 'sentinel']);
    expect(h.logs.some((l) => l.msg === 'slack redelivery dropped' && l.retryNum === 1)).toBe(true);
  }, 45_000);

  it('HTTP: a 503 (the gateway shutting down) is retried by Slack with X-Slack-Retry-Num and X-Slack-Retry-Reason', async () => {
    const h = await startSlackHarness({ fake: { retryDelaysMs: [0] } });
    h.shutdown.abort();
    const body = eventCallback(messageEvent({ text: 'later please' }));
    expect((await h.fake.postEvent(h.eventsUrl, body)).status).toBe(503);
    await vi.waitFor(() => expect(h.fake.redeliveries).toEqual([{ transport: 'http', eventId: body.event_id, attempt: 1, reason: 'http_error' }]), WAIT);
  });

  it('refuses what real Slack refuses: an unknown channel, a thread with no such parent, a reaction or edit of no such message', async () => {
    const h = await startSlackHarness();
    const nowhere = await h.adapter.send({ platform: 'slack', channelId: 'C0NOWHERE', text: 'hi', batchId: 'b1', inReplyTo: [] }).catch((e: unknown) => e);
    expect(nowhere).toBeInstanceOf(AdapterError);
    expect((nowhere as Error).message).toContain('channel_not_found');
    const orphan = await h.adapter.send({ platform: 'slack', channelId: `C0CHAN001/${nextTs()}`, text: 'hi', batchId: 'b2', inReplyTo: [] }).catch((e: unknown) => e);
    expect((orphan as Error).message).toContain('invalid_thread_ts');
    expect(h.fake.posts()).toEqual([]);

    // Reactions and edits need a message that exists.
    const web = new webApi.WebClient(h.fake.botToken, { slackApiUrl: h.fake.apiUrl, retryConfig: { retries: 0 } });
    const unknownTs = nextTs();
    await expect(web.reactions.add({ channel: 'C0CHAN001', timestamp: unknownTs, name: 'eyes' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(web.chat.update({ channel: 'C0CHAN001', ts: unknownTs, text: 'edited' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    await expect(web.reactions.add({ channel: 'C0NOWHERE', timestamp: unknownTs, name: 'eyes' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
  });

  it('resolveNames: the batch carries the display name from users.info; a second message from the same user makes no second call', async () => {
    const h = await startSlackHarness({ adapter: { resolveNames: true } });
    for (const text of ['first', 'second']) expect((await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ user: 'U0ALICE01', text })))).status).toBe(200);
    await vi.waitFor(() => expect(h.accepted).toHaveLength(2), WAIT);
    expect(h.accepted.map((m) => [m.userId, m.userName, m.text])).toEqual([
      ['U0ALICE01', 'Alice', 'first'],
      ['U0ALICE01', 'Alice', 'second'],
    ]);
    expect(h.fake.callsTo('users.info').map((c) => c.args.user)).toEqual(['U0ALICE01']);

    // A user Slack does not know keeps the id; every method the adapter called is in its declared list.
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ user: 'U0GHOST01', text: 'boo' })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(3), WAIT);
    expect(h.accepted[2]).toMatchObject({ userId: 'U0GHOST01', userName: 'U0GHOST01' });
    expect(h.fake.calls.map((c) => c.method).filter((m) => !(m in SLACK_METHOD_SCOPES))).toEqual([]);
  });

  it('resolveNames: messages of one channel keep their order while a name is looked up', async () => {
    const h = await startSlackHarness({ adapter: { resolveNames: true } });
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ user: 'U0BOB0001', text: 'bob first' })));
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ user: 'U0DAVE001', text: 'dave second', user_profile: { display_name: 'Dave' } })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(2), WAIT);
    expect(h.accepted.map((m) => [m.userName, m.text])).toEqual([
      ['Bob', 'bob first'],
      ['Dave', 'dave second'],
    ]);
  });
});
