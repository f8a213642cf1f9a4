import type { Message } from 'grammy/types';
import type { InboundMessage } from '../adapter.js';

export const TELEGRAM_PLATFORM = 'telegram';

/** Telegram rejects a message text longer than this (400 "message is too long"). */
export const TELEGRAM_TEXT_LIMIT = 4_096;

/** Where a message lives and a reply goes: a chat, or a forum topic of a chat. */
export interface TelegramTarget {
  chatId: number;
  /** Forum topic (`message_thread_id`); absent for private chats, plain groups and a forum's General topic. */
  threadId?: number;
}

/**
 * Channel id of a chat (`"-1001234567890"`) or of a forum topic (`"-1001234567890/42"`): each topic is its
 * own channel, batched and answered on its own, and replies go back into the topic.
 */
export function channelIdOf(target: TelegramTarget): string {
  return target.threadId === undefined ? String(target.chatId) : `${target.chatId}/${target.threadId}`;
}

/** The inverse of {@link channelIdOf}; null for an id that is not one. */
export function parseChannelId(channelId: string): TelegramTarget | null {
  const m = /^(-?\d+)(?:\/(\d+))?$/.exec(channelId);
  if (!m) return null;
  const chatId = Number(m[1]);
  if (!Number.isSafeInteger(chatId)) return null;
  return m[2] === undefined ? { chatId } : { chatId, threadId: Number(m[2]) };
}

/** One file of a message, by Telegram file id (download it with getFile). The largest size of a photo. */
export interface TelegramFile {
  kind: 'photo' | 'document' | 'video' | 'audio' | 'voice' | 'animation' | 'sticker' | 'video_note';
  fileId: string;
  fileUniqueId: string;
  name?: string;
  mimeType?: string;
  size?: number;
  width?: number;
  height?: number;
}

/** `QueuedMessage.extra` of a Telegram message. */
export interface TelegramExtra extends Record<string, unknown> {
  chatId: number;
  chatType: string;
  threadId?: number;
  messageId: number;
  /** Album id: every item of one album carries it, and they land in one batch. */
  mediaGroupId?: string;
  caption?: string;
  files: TelegramFile[];
  replyToMessageId?: number;
  username?: string;
}

export type TelegramDropReason = 'no-sender' | 'self' | 'bot' | 'empty';

/** Why a message is not taken, or undefined to take it. */
export function dropReason(message: Message, botId: number): TelegramDropReason | undefined {
  // Channel posts and messages sent on behalf of a chat carry no person.
  if (!message.from) return 'no-sender';
  if (message.from.id === botId) return 'self';
  if (message.from.is_bot) return 'bot';
  if (message.text === undefined && message.caption === undefined && filesOf(message).length === 0) return 'empty'; // joins, pins, …
  return undefined;
}

/** The message's files; a photo arrives in several sizes and only the largest is kept. */
export function filesOf(message: Message): TelegramFile[] {
  const files: TelegramFile[] = [];
  const photo = message.photo?.at(-1);
  if (photo) files.push(file('photo', photo));
  const single = [
    ['document', message.document],
    ['video', message.video],
    ['audio', message.audio],
    ['voice', message.voice],
    ['animation', message.animation],
    ['sticker', message.sticker],
    ['video_note', message.video_note],
  ] as const;
  for (const [kind, f] of single) {
    // An animation is also sent as a document; keep it once.
    if (f && !(kind === 'document' && message.animation)) files.push(file(kind, f));
  }
  return files;
}

interface FileFields {
  file_id: string;
  file_unique_id: string;
  file_name?: string;
  mime_type?: string;
  file_size?: number;
  width?: number;
  height?: number;
}

function file(kind: TelegramFile['kind'], f: FileFields): TelegramFile {
  const out: TelegramFile = { kind, fileId: f.file_id, fileUniqueId: f.file_unique_id };
  if (f.file_name !== undefined) out.name = f.file_name;
  if (f.mime_type !== undefined) out.mimeType = f.mime_type;
  if (f.file_size !== undefined) out.size = f.file_size;
  if (f.width !== undefined) out.width = f.width;
  if (f.height !== undefined) out.height = f.height;
  return out;
}

/** The message's place: a topic only when Telegram says it was sent to one (`is_topic_message`). */
export function targetOf(message: Message): TelegramTarget {
  return message.is_topic_message && message.message_thread_id !== undefined
    ? { chatId: message.chat.id, threadId: message.message_thread_id }
    : { chatId: message.chat.id };
}

/** A taken message as the gateway's InboundMessage. The text of a photo or file is its caption. */
export function normalizeMessage(message: Message): InboundMessage {
  const from = message.from!;
  const target = targetOf(message);
  const extra: TelegramExtra = { chatId: message.chat.id, chatType: message.chat.type, messageId: message.message_id, files: filesOf(message) };
  if (target.threadId !== undefined) extra.threadId = target.threadId;
  if (message.media_group_id !== undefined) extra.mediaGroupId = message.media_group_id;
  if (message.caption !== undefined) extra.caption = message.caption;
  if (message.reply_to_message && message.reply_to_message.message_id !== message.message_thread_id) {
    // In a topic every message "replies" to the topic's first message; that is no reply.
    extra.replyToMessageId = message.reply_to_message.message_id;
  }
  if (from.username !== undefined) extra.username = from.username;
  const userName = [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username || String(from.id);
  return {
    id: String(message.message_id),
    platform: TELEGRAM_PLATFORM,
    channelId: channelIdOf(target),
    userId: String(from.id),
    userName,
    text: message.text ?? message.caption ?? '',
    extra,
    raw: message,
  };
}
