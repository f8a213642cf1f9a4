import { PermissionFlagsBits } from 'discord.js';
import { pino } from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { banner } from '../../src/cli/banner.js';
import { parseConfig } from '../../src/config/load.js';
import { AdapterError } from '../../src/errors.js';
import { createGateway } from '../../src/gateway.js';
import { Intent, startFakeDiscord, type FakeDiscordOptions } from '../fakes/discord/index.js';
import { tempState } from '../helpers/temp-state.js';

/**
 * What a new operator sees when connecting a Discord bot: the intents IDENTIFY asks for (mention-only
 * bots need no privileged intent), the invite URL on the banner, and the advice when a toggle is off.
 * The real gateway and discord.js against the intent-strict fake.
 */

async function startGateway(discord: Record<string, unknown>, fakeOptions: FakeDiscordOptions = {}) {
  const fake = await startFakeDiscord(fakeOptions);
  const logger = pino({ level: 'silent' });
  const config = parseConfig(
    {
      http: { port: 0 },
      state: tempState(),
      batching: { defaults: { windowMs: 200 } },
      adapters: { web: { enabled: false }, webhook: { enabled: false }, discord: { enabled: true, token: fake.token, apiUrl: fake.apiUrl, ...discord } },
    },
    {},
  );
  const gateway = createGateway({ config, logger });
  onTestFinished(async () => {
    await gateway.close();
    await fake.close();
  });
  return { fake, gateway };
}

describe('Discord setup as a new operator meets it', () => {
  it('mentionOnly: true identifies without Message Content, so it connects with the toggle off, and still answers a mention and a DM', async () => {
    const { fake, gateway } = await startGateway({ mentionOnly: true }, { privilegedIntents: { messageContent: false } });
    await gateway.start();
    const [intents] = fake.identifyIntents;
    expect(intents! & Intent.MessageContent).toBe(0);
    expect(intents! & Intent.GuildMessages).toBe(Intent.GuildMessages);
    expect(intents! & Intent.DirectMessages).toBe(Intent.DirectMessages);

    // Without the intent Discord blanks this one's text; it is not for the bot anyway.
    fake.sendUserMessage({ channelId: fake.channelId, content: 'chatting among ourselves' });
    fake.sendUserMessage({ channelId: fake.channelId, content: `<@${fake.botUserId}> what time is it`, mentions: [fake.botUserId] });
    await fake.waitFor(() => fake.postedMessages.length === 1, 'the answer to the mention');
    expect(fake.postedMessages.map((p) => [p.channelId, p.content])).toEqual([[fake.channelId, '1 message from Alice: what time is it']]);

    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'a private question' });
    await fake.waitFor(() => fake.postedMessages.length === 2, 'the answer to the DM');
    expect(fake.postedMessages[1]).toMatchObject({ channelId: fake.dmChannelId, content: '1 message from Alice: a private question' });
  });

  it('mentionOnly: false asks for Message Content; with its toggle off, start-up names the toggle, where it is, and the way around it', async () => {
    const { fake, gateway } = await startGateway({ mentionOnly: false }, { privilegedIntents: { messageContent: false } });
    const err = await gateway.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    const message = (err as Error).message;
    expect(message).toContain('close code 4014 (disallowed intents)');
    expect(message).toContain('Turn on "Message Content Intent" in the Developer Portal → Applications → your application → Bot → Privileged Gateway Intents');
    expect(message).toContain('adapters.discord.mentionOnly: true');
    expect(fake.identifyIntents[0]! & Intent.MessageContent).toBe(Intent.MessageContent);
  });

  it('the banner prints the invite URL for this application with exactly the permissions the adapter uses', async () => {
    const { fake, gateway } = await startGateway({});
    await gateway.start();
    const text = banner(gateway, 'config.yaml');
    const line = text.split('\n').find((l) => l.includes('discord.com/oauth2/authorize'));
    expect(line, text).toBeDefined();
    const url = new URL(line!.trim().split(/\s+/).at(-1)!);
    const expected = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.SendMessagesInThreads | PermissionFlagsBits.ReadMessageHistory;
    expect(url.origin + url.pathname).toBe('https://discord.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: fake.botUserId, scope: 'bot', permissions: expected.toString() });
  });
});
