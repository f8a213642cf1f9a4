import type { InboundMessage } from '../adapter.js';

/** The fields of a Slack `message` / `app_mention` event the adapter reads. */
export interface SlackMessageEvent {
  type: string;
  subtype?: string;
  channel?: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  team?: string;
  files?: Array<{ id?: string; name?: string; mimetype?: string; url_private?: string }>;
  user_profile?: { display_name?: string; real_name?: string; name?: string };
  [key: string]: unknown;
}

/** Who the app is, from auth.test (Bolt's context carries it for each event). */
export interface SlackIdentity {
  botUserId?: string;
  botId?: string;
}

/** Why an event was not turned into a message. */
export type SlackIgnoreReason = 'not a message' | 'subtype' | 'bot' | 'self' | 'incomplete';

/**
 * Subtypes that are people talking. Everything else (edits `message_changed`, deletions `message_deleted`,
 * thread bookkeeping `message_replied`, joins, topics, `bot_message`…) is ignored: a bot answering edits or
 * its own posts would loop or answer twice.
 */
const HUMAN_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

/** `C123:1700000000.000100`: a Slack message's id, which also tells receipts where to react. */
export function slackMessageId(channel: string, ts: string): string {
  return `${channel}:${ts}`;
}

/** Reverses {@link slackMessageId}; undefined for ids this adapter did not make. */
export function parseSlackMessageId(id: string): { channel: string; ts: string } | undefined {
  const at = id.lastIndexOf(':');
  if (at <= 0 || at === id.length - 1) return undefined;
  return { channel: id.slice(0, at), ts: id.slice(at + 1) };
}

/** `C123` or `C123/1700000000.000100` (a thread is its own channel) → where to post and in which thread. */
export function parseSlackChannelId(channelId: string): { channel: string; threadTs?: string } {
  const at = channelId.indexOf('/');
  if (at < 0) return { channel: channelId };
  return { channel: channelId.slice(0, at), threadTs: channelId.slice(at + 1) || undefined };
}

/**
 * Turns a Slack message or app_mention event into an inbound message, or says why it is ignored.
 * A thread reply (`thread_ts` ≠ `ts`) gets channel `C123/<thread_ts>` so the thread batches on its own
 * and the reply goes back into it. A leading mention of the app itself is dropped from `text`
 * (`extra.mentionsBot` keeps the fact); other mentions stay as Slack wrote them (`<@U123>`).
 */
export function normalizeSlackEvent(
  event: SlackMessageEvent,
  self: SlackIdentity,
): { message: InboundMessage } | { ignored: SlackIgnoreReason } {
  if (event.type !== 'message' && event.type !== 'app_mention') return { ignored: 'not a message' };
  if (event.subtype === 'bot_message' || event.bot_id) return { ignored: 'bot' };
  if (!HUMAN_SUBTYPES.has(event.subtype)) return { ignored: 'subtype' };
  if (self.botUserId && event.user === self.botUserId) return { ignored: 'self' };
  const { channel, ts, user } = event;
  if (!channel || !ts || !user) return { ignored: 'incomplete' };

  const threadTs = event.thread_ts && event.thread_ts !== ts ? event.thread_ts : undefined;
  let text = event.text ?? '';
  const mentions = [...text.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1] as string);
  const mentionsBot = self.botUserId !== undefined && mentions.includes(self.botUserId);
  if (self.botUserId) text = text.replace(new RegExp(`^\\s*<@${self.botUserId}(?:\\|[^>]*)?>[\\s,:]*`), '');

  const profile = event.user_profile;
  const userName = profile?.display_name || profile?.real_name || profile?.name || user;
  const extra: Record<string, unknown> = {
    channel,
    ts,
    channelType: event.channel_type ?? (channel.startsWith('D') ? 'im' : undefined),
    mentions,
    mentionsBot,
  };
  if (threadTs) extra.threadTs = threadTs;
  if (event.team) extra.team = event.team;
  if (event.files?.length) extra.files = event.files.map((f) => ({ id: f.id, name: f.name, mimetype: f.mimetype, url: f.url_private }));
  for (const k of Object.keys(extra)) if (extra[k] === undefined) delete extra[k];

  return {
    message: {
      id: slackMessageId(channel, ts),
      platform: 'slack',
      channelId: threadTs ? `${channel}/${threadTs}` : channel,
      userId: user,
      userName,
      text,
      extra,
      raw: event,
    },
  };
}

/** An edit or delete of a Slack message, as the engine takes it: `text: null` is a delete. */
export interface SlackMessageChange {
  channelId: string;
  messageId: string;
  text: string | null;
  author?: { userId: string; userName: string };
}

/**
 * Turns a `message_changed` or `message_deleted` event into the change of the message it names, in the
 * ids {@link normalizeSlackEvent} gave that message; null for other events, bots' and the app's own
 * messages, and `message_changed` events that leave the text as it was (link unfurls, reactions' previews).
 */
export function normalizeSlackChange(event: SlackMessageEvent, self: SlackIdentity): SlackMessageChange | null {
  if (event.type !== 'message' || !event.channel) return null;
  const previous = event.previous_message as SlackMessageEvent | undefined;
  if (event.subtype === 'message_changed') {
    const inner = event.message as SlackMessageEvent | undefined;
    if (!inner || (previous && previous.text === inner.text)) return null;
    const result = normalizeSlackEvent({ ...inner, type: 'message', subtype: undefined, channel: event.channel }, self);
    if ('ignored' in result) return null;
    const { message } = result;
    return { channelId: message.channelId, messageId: message.id, text: message.text, author: { userId: message.userId, userName: message.userName } };
  }
  if (event.subtype === 'message_deleted') {
    const ts = typeof event.deleted_ts === 'string' ? event.deleted_ts : previous?.ts;
    if (!ts) return null;
    const threadTs = previous?.thread_ts && previous.thread_ts !== ts ? previous.thread_ts : undefined;
    return { channelId: threadTs ? `${event.channel}/${threadTs}` : event.channel, messageId: slackMessageId(event.channel, ts), text: null };
  }
  return null;
}
