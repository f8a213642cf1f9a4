import { describe, expect, it, vi } from 'vitest';
import { appMentionEvent, eventCallback, messageEvent, nextTs, nowSec } from '../../fakes/slack/index.js';
import { startSlackHarness } from './harness.js';

const WAIT = { timeout: 10_000, interval: 20 };

describe('slack adapter, HTTP mode (real Bolt on fastify, fake Slack)', () => {
  it('normalizes channel messages, DMs, app mentions and thread replies, answering 200 with an empty body', async () => {
    const h = await startSlackHarness();
    const bot = h.fake.ids.botUserId;
    const parentTs = nextTs();
    const events = [
      messageEvent({ channel: 'C0GENERAL', user: 'U0ALICE01', text: 'hello there', user_profile: { display_name: 'alice' } }),
      messageEvent({ channel: 'D0DIRECT1', channel_type: 'im', user: 'U0BOB0001', text: 'psst' }),
      appMentionEvent({ channel: 'C0GENERAL', user: 'U0CAROL01', text: `<@${bot}> what's up?` }),
      messageEvent({ channel: 'C0GENERAL', user: 'U0DAVE001', text: 'in the thread', thread_ts: parentTs, parent_user_id: 'U0ALICE01' }),
    ];
    for (const e of events) {
      const res = await h.fake.postEvent(h.eventsUrl, eventCallback(e));
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
    }
    await vi.waitFor(() => expect(h.accepted).toHaveLength(4), WAIT);
    const [chan, dm, mention, thread] = h.accepted;
    expect(chan).toMatchObject({ id: `C0GENERAL:${String(events[0]?.ts)}`, platform: 'slack', channelId: 'C0GENERAL', userId: 'U0ALICE01', userName: 'alice', text: 'hello there' });
    expect(chan?.extra).toMatchObject({ channel: 'C0GENERAL', ts: events[0]?.ts, channelType: 'channel' });
    expect(dm).toMatchObject({ channelId: 'D0DIRECT1', userId: 'U0BOB0001', userName: 'U0BOB0001', text: 'psst', extra: { channelType: 'im' } });
    expect(mention).toMatchObject({ channelId: 'C0GENERAL', userId: 'U0CAROL01', text: "what's up?", extra: { mentionsBot: true, mentions: [bot] } });
    expect(thread).toMatchObject({ channelId: `C0GENERAL/${parentTs}`, text: 'in the thread', extra: { threadTs: parentTs, channel: 'C0GENERAL' } });
    expect(thread?.id).toBe(`C0GENERAL:${String(events[3]?.ts)}`);
  });

  it('acks before accept answers: Slack gets its 200 while the queue is still busy', async () => {
    const h = await startSlackHarness();
    let release!: () => void;
    h.holdAccept = new Promise<void>((r) => (release = r));
    const res = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'slow queue' })));
    expect(res.status).toBe(200);
    expect(h.accepted).toHaveLength(0);
    release();
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toEqual(['slow queue']), WAIT);
  });

  it('rejects a wrong signature, a 6-minute-old timestamp and missing headers with 401, enqueuing nothing', async () => {
    const h = await startSlackHarness();
    const forged = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'forged' })), { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    const tampered = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'tampered' })), { signature: 'v0=' + '0'.repeat(64) });
    expect(tampered.status).toBe(401);
    const stale = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'stale' })), { timestamp: nowSec() - 6 * 60 });
    expect(stale.status).toBe(401);
    const bare = await fetch(h.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(eventCallback(messageEvent({ text: 'unsigned' }))) });
    expect(bare.status).toBe(401);
    // A good event afterwards proves the pipeline is live, so "nothing accepted" above is not a timing accident.
    expect((await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'genuine' })))).status).toBe(200);
    await vi.waitFor(() => expect(h.accepted).toHaveLength(1), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['genuine']);
    expect(h.logs.filter((l) => l.msg === 'slack request failed verification')).toHaveLength(4);
  });

  it('answers url_verification with the challenge (signed only) and accepts nothing', async () => {
    const h = await startSlackHarness();
    const body = { token: 'legacy', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' };
    const res = await h.fake.postEvent(h.eventsUrl, body);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge: body.challenge });
    expect((await h.fake.postEvent(h.eventsUrl, body, { secret: 'wrong' })).status).toBe(401);
    expect(h.accepted).toHaveLength(0);
  });

  it('accepts a retried delivery (same event_id, X-Slack-Retry-Num: 1) once, and a message+app_mention pair once', async () => {
    const h = await startSlackHarness();
    const body = eventCallback(messageEvent({ text: 'retry me' }));
    expect((await h.fake.postEvent(h.eventsUrl, body)).status).toBe(200);
    const retry = await h.fake.postEvent(h.eventsUrl, body, { retryNum: 1, retryReason: 'http_timeout' });
    expect(retry.status).toBe(200);
    expect((await h.fake.postEvent(h.eventsUrl, body, { retryNum: 2, retryReason: 'http_timeout' })).status).toBe(200);

    // Subscribed to both message.channels and app_mention, Slack sends one message as two events.
    const ts = nextTs();
    const text = `<@${h.fake.ids.botUserId}> twice?`;
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ ts, text })));
    await h.fake.postEvent(h.eventsUrl, eventCallback(appMentionEvent({ ts, text })));
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'sentinel' })));
    await vi.waitFor(() => expect(h.accepted.map((m) => m.text)).toContain('sentinel'), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['retry me', 'twice?', 'sentinel']);
  });

  it('ignores bots, its own posts, edits, deletions, thread bookkeeping and system messages', async () => {
    const h = await startSlackHarness();
    const { botUserId, botId } = h.fake.ids;
    const ignored = [
      messageEvent({ subtype: 'bot_message', bot_id: 'B0OTHER01', username: 'ci-bot', text: 'build passed', user: undefined }),
      messageEvent({ bot_id: 'B0OTHER01', user: 'U0OTHERBT', text: 'another app posting with a bot token' }),
      messageEvent({ bot_id: botId, user: botUserId, app_id: 'A0FAKE001', text: 'my own reply' }),
      messageEvent({ user: botUserId, text: 'own user without bot_id' }),
      messageEvent({ subtype: 'message_changed', hidden: true, user: undefined, message: { type: 'message', user: 'U0ALICE01', text: 'edited' }, previous_message: { type: 'message', user: 'U0ALICE01', text: 'orig' } }),
      messageEvent({ subtype: 'message_deleted', hidden: true, user: undefined, deleted_ts: '1700000000.000100' }),
      messageEvent({ subtype: 'message_replied', hidden: true, user: undefined, message: { type: 'message', user: 'U0ALICE01', text: 'parent', thread_ts: '1700000000.000100', reply_count: 1 } }),
      messageEvent({ subtype: 'channel_join', text: '<@U0ALICE01> has joined the channel' }),
    ];
    for (const e of ignored) expect((await h.fake.postEvent(h.eventsUrl, eventCallback(e))).status).toBe(200);
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'a person' })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(1), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['a person']);
  });

  it('does not answer its own reply when Slack echoes it back (loop safety end to end)', async () => {
    const h = await startSlackHarness({ fake: { echoBotPosts: true } });
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ channel: 'C0LOOP001', text: 'ping' })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(1), WAIT);
    await h.adapter.send({ platform: 'slack', channelId: 'C0LOOP001', text: 'pong', batchId: 'b1', inReplyTo: [h.accepted[0]?.id ?? ''] });
    await vi.waitFor(() => expect(h.fake.echoes).toEqual([200]), WAIT);
    await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ channel: 'C0LOOP001', text: 'sentinel' })));
    await vi.waitFor(() => expect(h.accepted).toHaveLength(2), WAIT);
    expect(h.accepted.map((m) => m.text)).toEqual(['ping', 'sentinel']);
  });

  it('keeps raw-body parsing inside its own route: other JSON routes on the shared server still parse JSON', async () => {
    const h = await startSlackHarness({
      extraRoutes: (server) => server.post('/echo-json', async (req) => ({ got: req.body })),
    });
    const res = await fetch(`${h.baseUrl}/echo-json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await res.json()).toEqual({ got: { a: 1 } });
  });

  it('after shutdown begins, answers 503 so Slack redelivers elsewhere, and accepts nothing more', async () => {
    const h = await startSlackHarness();
    expect(h.adapter.ready()).toBe(true);
    h.shutdown.abort();
    const res = await h.fake.postEvent(h.eventsUrl, eventCallback(messageEvent({ text: 'too late' })));
    expect(res.status).toBe(503);
    expect(h.adapter.ready()).toBe(false);
    expect(h.accepted).toHaveLength(0);
    // Replies produced while draining still go out.
    await h.adapter.send({ platform: 'slack', channelId: 'C0CHAN001', text: 'drained reply', batchId: 'b', inReplyTo: [] });
    expect(h.fake.posts().map((p) => p.text)).toEqual(['drained reply']);
  });
});
