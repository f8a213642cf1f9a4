import { MessageType, cleanContent, type Message } from 'discord.js';
import type { InboundMessage } from '../adapter.js';

/** The platform name; channel keys are `discord:<channelId>`. */
export const DISCORD_PLATFORM = 'discord';

/** Why a Discord message never reaches the queue. */
export type DiscordDropReason = 'self' | 'bot' | 'webhook' | 'system' | 'interaction' | 'not-allowed' | 'not-mentioned' | 'empty';

/** What decides whether a message is for the bot; from the `adapters.discord` config plus the bot's own id. */
export interface DiscordFilterOptions {
  botUserId: string;
  /** In guild channels and threads, only messages that mention the bot; DMs always pass. */
  mentionOnly: boolean;
  /** Allow-list (empty: everything). An entry matches a channel id, a thread's parent channel id, a guild id, or `dm` for every DM. */
  channels: readonly string[];
}

/** What `extra` holds for a Discord message (JSON-serializable). */
export interface DiscordExtra {
  guildId: string | null;
  /** Set for a thread: the channel it hangs off (the thread itself is the batch's channel). */
  threadParentId: string | null;
  isDM: boolean;
  /** The author's unique username (`userName` is the display name). */
  username: string;
  attachments: Array<{ id: string; name: string; url: string; contentType: string | null; size: number }>;
  mentions: { users: Array<{ id: string; name: string }>; roles: string[]; everyone: boolean; bot: boolean };
  /** The message this one replies to, if any. */
  replyTo: string | null;
  /** The content exactly as sent (mentions as `<@id>`), when it differs from `text`. */
  content?: string;
}

/**
 * Loop safety first, then configuration. Discord echoes the bot's own posts as MESSAGE_CREATE, other bots
 * answering us would ping-pong forever, webhooks relay other systems (possibly ours), and system messages
 * (joins, pins, thread created) and interaction responses are not things a person said to the bot.
 */
export function dropReason(message: Message, options: DiscordFilterOptions): DiscordDropReason | null {
  if (message.author.id === options.botUserId) return 'self';
  if (message.webhookId) return 'webhook';
  if (message.author.bot) return 'bot';
  if (message.type !== MessageType.Default && message.type !== MessageType.Reply) return 'system';
  if (message.interactionMetadata) return 'interaction';
  if (options.channels.length > 0 && !allowed(message, options.channels)) return 'not-allowed';
  if (options.mentionOnly && !message.channel.isDMBased() && !message.mentions.users.has(options.botUserId)) return 'not-mentioned';
  if (message.content.trim() === '' && message.attachments.size === 0) return 'empty';
  return null;
}

function allowed(message: Message, channels: readonly string[]): boolean {
  const channel = message.channel;
  const candidates = [message.channelId];
  if (channel.isThread() && channel.parentId) candidates.push(channel.parentId);
  if (message.guildId) candidates.push(message.guildId);
  if (channel.isDMBased()) candidates.push('dm');
  return candidates.some((c) => channels.includes(c));
}

/**
 * The queue's view of a Discord message. A thread is its own channel (its id is the thread's channel id),
 * and so is a DM. `text` is what people see: a leading mention of the bot is dropped and other mentions
 * read as `@Name`; attachment-only messages carry their URLs as text so nothing is silently empty.
 */
export function normalizeMessage(message: Message, botUserId: string): InboundMessage {
  const channel = message.channel;
  const withoutBotMention = message.content.replace(new RegExp(`^\\s*<@!?${botUserId}>\\s*`), '');
  const attachments = [...message.attachments.values()].map((a) => ({
    id: a.id,
    name: a.name,
    url: a.url,
    contentType: a.contentType ?? null,
    size: a.size,
  }));
  let text = cleanContent(withoutBotMention, channel);
  if (text.trim() === '' && attachments.length > 0) text = attachments.map((a) => a.url).join('\n');
  const extra: DiscordExtra = {
    guildId: message.guildId,
    threadParentId: channel.isThread() ? channel.parentId : null,
    isDM: channel.isDMBased(),
    username: message.author.username,
    attachments,
    mentions: {
      users: [...message.mentions.users.values()].map((u) => ({ id: u.id, name: message.mentions.members?.get(u.id)?.displayName ?? u.displayName })),
      roles: [...message.mentions.roles.keys()],
      everyone: message.mentions.everyone,
      bot: message.mentions.users.has(botUserId),
    },
    replyTo: message.reference?.messageId ?? null,
  };
  if (text !== message.content) extra.content = message.content;
  return {
    id: message.id,
    platform: DISCORD_PLATFORM,
    channelId: message.channelId,
    userId: message.author.id,
    userName: message.member?.displayName ?? message.author.displayName,
    text,
    extra: { ...extra },
    raw: message,
  };
}
