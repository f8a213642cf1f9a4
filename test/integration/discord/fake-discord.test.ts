import { Client, Events, GatewayIntentBits, Partials, type Message } from 'discord.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../../fakes/discord/index.js';

/** A bare discord.js client with these intents, logged in to the fake, recording every messageCreate. */
async function loggedIn(fake: FakeDiscord, intents: GatewayIntentBits[]): Promise<{ client: Client; seen: Message[] }> {
  const client = new Client({ intents, partials: [Partials.Channel], rest: { api: fake.apiUrl, retries: 0, timeout: 5_000 } });
  onTestFinished(() => client.destroy());
  const seen: Message[] = [];
  client.on(Events.MessageCreate, (m) => seen.push(m));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(fake.token);
  await ready;
  return { client, seen };
}

// The fake itself, checked with a bare discord.js client (no adapter), so adapter tests can trust it.
describe('fake Discord with the real discord.js client', () => {
  it('logs in, delivers MESSAGE_CREATE for channel, thread and DM, echoes posts and serves typing', async () => {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    const { client, seen } = await loggedIn(fake, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages]);
    expect(client.user?.id).toBe(fake.botUserId);

    fake.sendUserMessage({ channelId: fake.channelId, content: 'in channel' });
    fake.sendUserMessage({ channelId: fake.threadId, content: 'in thread' });
    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'in dm' });
    await fake.waitFor(() => seen.length >= 3, 'three messages');
    expect(seen.map((m) => [m.content, m.channelId])).toEqual([
      ['in channel', fake.channelId],
      ['in thread', fake.threadId],
      ['in dm', fake.dmChannelId],
    ]);
    expect(seen[1]?.channel.isThread()).toBe(true);
    expect(seen[2]?.channel.isDMBased()).toBe(true);

    const channel = await client.channels.fetch(fake.channelId);
    if (!channel?.isSendable()) throw new Error('general is not sendable');
    await channel.sendTyping();
    await channel.send('hello from the bot');
    await fake.waitFor(() => seen.find((m) => m.author.id === fake.botUserId), 'the echo of the bot post');
    expect(fake.postedMessages.map((p) => p.content)).toEqual(['hello from the bot']);
    expect(fake.typingCalls.map((t) => t.channelId)).toEqual([fake.channelId]);
  });

  it('answers a wrong token with 401 on /gateway/bot', async () => {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl, retries: 0 } });
    onTestFinished(() => client.destroy());
    await expect(client.login('not-the-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(fake.requests).toContainEqual({ method: 'GET', path: '/api/v10/gateway/bot', status: 401 });
    expect(fake.connections).toBe(0);
  });

  it('ACKs heartbeats, so a fast heartbeat keeps one healthy session (no zombie resume)', async () => {
    const fake = await startFakeDiscord({ heartbeatIntervalMs: 100 });
    onTestFinished(() => fake.close());
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl, retries: 0 } });
    onTestFinished(() => client.destroy());
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(fake.token);
    await ready;
    await fake.waitFor(() => fake.heartbeats >= 5, 'five heartbeats');
    expect(fake.connections).toBe(1);
    expect(fake.resumes).toBe(0);
  });

  it('is as strict as Discord about intents: only what IDENTIFY asked for, content blanked without Message Content, 4014 for a toggle that is off', async () => {
    const fake = await startFakeDiscord();
    onTestFinished(() => fake.close());
    // Guild messages without Message Content; no DirectMessages at all.
    const { seen } = await loggedIn(fake, [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);

    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'a dm nobody asked for' });
    fake.sendUserMessage({ channelId: fake.channelId, content: 'not for the bot', attachments: [{ filename: 'a.txt' }] });
    fake.sendUserMessage({ channelId: fake.channelId, content: `<@${fake.botUserId}> for the bot`, mentions: [fake.botUserId] });
    await fake.waitFor(() => seen.length >= 2, 'two guild messages');
    expect(seen.map((m) => [m.channelId, m.content, m.attachments.size])).toEqual([
      [fake.channelId, '', 0],
      [fake.channelId, `<@${fake.botUserId}> for the bot`, 0],
    ]);

    const privileged = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMembers], rest: { api: fake.apiUrl, retries: 0 } });
    onTestFinished(() => privileged.destroy());
    await expect(privileged.login(fake.token)).rejects.toThrow(/disallowed intents/i);
    await fake.waitFor(() => fake.closeCodes.includes(4014), 'the 4014 close');
  });
});
