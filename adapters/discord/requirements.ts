import { GatewayIntentBits, PermissionFlagsBits } from 'discord.js';

/**
 * What the adapter asks of Discord, in one place: the gateway intents it sends in IDENTIFY, the
 * channel permissions its REST calls need, and the invite URL that grants exactly those. The docs,
 * the start-up banner and the 4014 advice all read from here.
 */

/** The intents the adapter needs for a config. */
export function discordIntents(options: { mentionOnly: boolean }): GatewayIntentBits[] {
  // The two typing intents bring TYPING_START, which holds a person's open batch while they are still
  // typing (`typingHoldMs`); neither is privileged.
  const intents = [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.DirectMessages,
    GatewayIntentBits.GuildMessageTyping,
    GatewayIntentBits.DirectMessageTyping,
  ];
  // Discord sends the text of DMs and of messages that mention the bot without Message Content, so a
  // mention-only bot does not need the privileged intent (nor Discord's review once it grows).
  if (!options.mentionOnly) intents.push(GatewayIntentBits.MessageContent);
  return intents;
}

/** The privileged intents and the toggle each one has in the Developer Portal (Bot → Privileged Gateway Intents). */
export const PRIVILEGED_INTENT_TOGGLES: ReadonlyMap<GatewayIntentBits, string> = new Map([
  [GatewayIntentBits.MessageContent, 'Message Content Intent'],
  [GatewayIntentBits.GuildMembers, 'Server Members Intent'],
  [GatewayIntentBits.GuildPresences, 'Presence Intent'],
]);

/** The Portal toggles of the privileged intents among `intents`. */
export function privilegedToggles(intents: readonly GatewayIntentBits[]): string[] {
  return intents.flatMap((i) => PRIVILEGED_INTENT_TOGGLES.get(i) ?? []);
}

/**
 * Channel permissions the adapter uses: see channels and receive their messages (View Channels), post
 * replies and refusal notices (Send Messages, and Send Messages in Threads for threads), and answer a
 * message as a Discord reply (`replyToLast`, `replyTo`, notices), which needs Read Message History.
 * The typing indicator needs no permission of its own beyond Send Messages.
 */
export const DISCORD_PERMISSIONS = [
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessages,
  PermissionFlagsBits.SendMessagesInThreads,
  PermissionFlagsBits.ReadMessageHistory,
] as const;

/** The permission integer of {@link DISCORD_PERMISSIONS}, as the OAuth2 URL writes it. */
export const DISCORD_PERMISSION_BITS: bigint = DISCORD_PERMISSIONS.reduce((bits, p) => bits | p, 0n);

/** The URL that adds the bot to a server with exactly the permissions the adapter uses. */
export function discordInviteUrl(applicationId: string): string {
  const query = new URLSearchParams({ client_id: applicationId, scope: 'bot', permissions: DISCORD_PERMISSION_BITS.toString() });
  return `https://discord.com/oauth2/authorize?${query.toString()}`;
}
