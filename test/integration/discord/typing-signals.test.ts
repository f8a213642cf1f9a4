import { describe, expect, it } from 'vitest';
import { Intent } from '../../fakes/discord/index.js';
import { discordHarness, until } from './harness.js';

describe('DiscordAdapter turns TYPING_START into typing signals', () => {
  it('asks for both typing intents and hands over a person typing in a channel, a thread and a DM', async () => {
    const h = await discordHarness();
    await h.start();
    const { fake } = h;
    const [intents] = fake.identifyIntents;
    expect(intents! & Intent.GuildMessageTyping).toBe(Intent.GuildMessageTyping);
    expect(intents! & Intent.DirectMessageTyping).toBe(Intent.DirectMessageTyping);

    // A DM's TYPING_START names only the user id: discord.js knows the person from their message.
    fake.sendUserMessage({ channelId: fake.dmChannelId, content: 'hi in private' });
    await until(() => h.accepted.length === 1, 'the DM');
    for (const channelId of [fake.channelId, fake.threadId, fake.dmChannelId]) fake.sendTyping({ channelId });
    await until(() => h.typingSignals.length === 3, 'three typing signals');
    expect(h.typingSignals).toEqual([
      { channelId: fake.channelId, userId: fake.humanUser.id },
      { channelId: fake.threadId, userId: fake.humanUser.id },
      { channelId: fake.dmChannelId, userId: fake.humanUser.id },
    ]);
  });

  it("ignores the bot's own typing and other bots' typing", async () => {
    const h = await discordHarness();
    await h.start();
    const { fake } = h;
    fake.sendTyping({ channelId: fake.channelId, userId: fake.botUserId });
    fake.sendTyping({ channelId: fake.channelId, userId: fake.otherBotUser.id });
    // Dispatches arrive in order on the one socket: once the person's signal is in, the bots' were handled.
    fake.sendTyping({ channelId: fake.channelId });
    await until(() => h.typingSignals.length >= 1, "the person's typing signal");
    expect(h.typingSignals).toEqual([{ channelId: fake.channelId, userId: fake.humanUser.id }]);
  });
});
