import { describe, expect, it } from 'vitest';
import type { DiscordExtra } from '../../../adapters/discord/index.js';
import { MessageKind } from '../../fakes/discord/index.js';
import { discordHarness, until } from './harness.js';

describe('DiscordAdapter receives through the real discord.js client', () => {
  it('normalizes a guild channel message, a thread message and a DM, each with its own channel id', async () => {
    const h = await discordHarness();
    await h.start();
    const { fake } = h;
    const inChannel = fake.sendUserMessage({
      channelId: fake.channelId,
      content: `hey <@${fake.botUserId}> look at <@${fake.humanUser.id}>`,
      nick: 'Ali (mod)',
      mentions: [fake.botUserId, fake.humanUser.id],
      attachments: [{ filename: 'log.txt', contentType: 'text/plain', size: 42 }],
    });
    const inThread = fake.sendUserMessage({ channelId: fake.threadId, content: 'from the thread' });
    const inDm = fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'private words' });
    await until(() => h.accepted.length === 3, 'three accepted messages');

    const [c, t, d] = h.accepted;
    expect(c).toMatchObject({ id: inChannel, platform: 'discord', channelId: fake.channelId, userId: fake.humanUser.id, userName: 'Ali (mod)' });
    // Mentions read as display names; alice's guild nickname wins over her global name.
    expect(c?.text).toBe('hey @batchgate-bot look at @Ali (mod)');
    const extra = c?.extra as unknown as DiscordExtra;
    expect(extra).toMatchObject({
      guildId: fake.guildId,
      threadParentId: null,
      isDM: false,
      username: 'alice',
      mentions: { users: [{ id: fake.botUserId, name: 'batchgate-bot' }, { id: fake.humanUser.id, name: 'Ali (mod)' }], roles: [], everyone: false, bot: true },
      replyTo: null,
      content: `hey <@${fake.botUserId}> look at <@${fake.humanUser.id}>`,
    });
    expect(extra.attachments).toEqual([
      expect.objectContaining({ name: 'log.txt', contentType: 'text/plain', size: 42, url: expect.stringContaining('log.txt') as string }),
    ]);
    // extra must survive JSON (Redis, spool file).
    expect(JSON.parse(JSON.stringify(c?.extra))).toEqual(c?.extra);

    expect(t).toMatchObject({ id: inThread, channelId: fake.threadId, text: 'from the thread', userName: 'Alice' });
    expect(t?.extra).toMatchObject({ guildId: fake.guildId, threadParentId: fake.channelId, isDM: false });

    expect(d).toMatchObject({ id: inDm, channelId: fake.dmChannelId, text: 'private words', userName: 'Alice' });
    expect(d?.extra).toMatchObject({ guildId: null, threadParentId: null, isDM: true });
  });

  it('hands three quick messages over in order (the queue, not the adapter, batches them)', async () => {
    const h = await discordHarness();
    await h.start();
    for (const content of ['one', 'two', 'three']) h.fake.sendUserMessage({ channelId: h.fake.channelId, content });
    await until(() => h.accepted.length === 3, 'three messages');
    expect(h.accepted.map((m) => m.text)).toEqual(['one', 'two', 'three']);
  });

  it("never hands over the bot's own echoed post, other bots, webhooks, system messages or edits", async () => {
    const h = await discordHarness();
    await h.start();
    const { fake } = h;
    await h.adapter.send({ platform: 'discord', channelId: fake.channelId, text: 'I am the bot', batchId: 'b1', inReplyTo: [] });
    fake.sendBotMessage({ channelId: fake.channelId, content: 'beep from another bot' });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'relayed', webhookId: fake.otherChannelId, author: { id: '1200000000000000777', username: 'Relay', bot: true } });
    fake.sendUserMessage({ channelId: fake.channelId, content: '', type: MessageKind.UserJoin });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'pinned', type: MessageKind.ChannelPinned });
    fake.dispatch('MESSAGE_UPDATE', { id: '1200000000000000001', channel_id: fake.channelId, guild_id: fake.guildId, content: 'edited' });
    fake.dispatch('MESSAGE_DELETE', { id: '1200000000000000001', channel_id: fake.channelId, guild_id: fake.guildId });
    // The bot's echo must have come back through the gateway before the marker (the fake echoes in order).
    await until(() => fake.postedMessages.length === 1, 'the bot post');
    const marker = fake.sendUserMessage({ channelId: fake.channelId, content: 'a human' });
    // The fake dispatches in order, so everything above has been handled once the marker is.
    await until(() => h.accepted.length >= 1, 'the human message');
    const ignored = () => h.logs.filter((l) => l.msg === 'discord message ignored').map((l) => l.reason);
    await until(() => ignored().length >= 5, 'five ignored messages');
    expect(h.accepted.map((m) => m.id)).toEqual([marker]);
    expect(ignored()).toEqual(['self', 'bot', 'webhook', 'system', 'system']);
  });

  it('mentionOnly: guild messages need a mention of the bot (stripped from the text); DMs always pass', async () => {
    const h = await discordHarness({ adapter: { mentionOnly: true } });
    await h.start();
    const { fake } = h;
    fake.sendUserMessage({ channelId: fake.channelId, content: 'talking among ourselves' });
    fake.sendUserMessage({ channelId: fake.threadId, content: 'also not for the bot' });
    fake.sendUserMessage({ channelId: fake.channelId, content: `<@${fake.botUserId}> summarize please`, mentions: [fake.botUserId] });
    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'dm without mention' });
    // A last message that passes: the fake dispatches in order, so the ones before it were all handled.
    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'marker' });
    await until(() => h.accepted.some((m) => m.text === 'marker'), 'the marker');
    expect(h.accepted.map((m) => [m.channelId, m.text])).toEqual([
      [fake.channelId, 'summarize please'],
      [fake.dmChannelId, 'dm without mention'],
      [fake.dmChannelId, 'marker'],
    ]);
  });

  it('channels allow-list: a listed channel and its threads pass; other channels and DMs need their own entry', async () => {
    const h = await discordHarness({ adapter: (fake) => ({ channels: [fake.channelId] }) });
    await h.start();
    const { fake } = h;
    fake.sendUserMessage({ channelId: fake.otherChannelId, content: 'elsewhere' });
    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'a dm' });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'listed' });
    fake.sendUserMessage({ channelId: fake.threadId, content: 'thread of listed' });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'marker' });
    await until(() => h.accepted.some((m) => m.text === 'marker'), 'the marker');
    expect(h.accepted.map((m) => m.text)).toEqual(['listed', 'thread of listed', 'marker']);

    const g = await discordHarness({ adapter: (f) => ({ channels: ['dm', f.guildId] }) });
    await g.start();
    g.fake.sendUserMessage({ channelId: g.fake.dmChannelId, content: 'a dm' });
    g.fake.sendUserMessage({ channelId: g.fake.otherChannelId, content: 'any channel of the guild' });
    await until(() => g.accepted.length === 2, 'two messages');
    expect(g.accepted.map((m) => m.text)).toEqual(['a dm', 'any channel of the guild']);
  });
});
