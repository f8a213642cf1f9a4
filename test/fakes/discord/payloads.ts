/**
 * Discord API v10 object shapes the fake sends, built as raw JSON (no discord.js types) so the fake checks
 * the client rather than sharing its assumptions. Field lists follow Discord's API v10 object docs (READY, GUILD_CREATE, MESSAGE_CREATE).
 */

/** Discord's epoch (2015-01-01T00:00:00Z); snowflakes count milliseconds from here. */
const DISCORD_EPOCH = 1_420_070_400_000n;

/** Channel types the fake uses (Discord `ChannelType`). */
export const ChannelKind = { GuildText: 0, DM: 1, PublicThread: 11 } as const;

/** Message types the fake uses (Discord `MessageType`). */
export const MessageKind = { Default: 0, UserJoin: 7, ChannelPinned: 6, Reply: 19 } as const;

/**
 * Numeric snowflake ids. discord.js parses every message id with BigInt (`DiscordSnowflake.timestampFrom`),
 * so ids like `msg-1` would throw inside the client.
 */
export class SnowflakeGenerator {
  #increment = 0n;

  next(now: number = Date.now()): string {
    this.#increment = (this.#increment + 1n) & 0xfffn;
    return (((BigInt(now) - DISCORD_EPOCH) << 22n) | this.#increment).toString();
  }
}

/** A user as Discord serializes it. */
export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}

/** A user object; `bot` is present only for bots, as on the wire. */
export function user(id: string, username: string, options: { globalName?: string | null; bot?: boolean } = {}): FakeUser {
  const u: FakeUser = { id, username, global_name: options.globalName ?? null, discriminator: '0', avatar: null };
  if (options.bot) u.bot = true;
  return u;
}

/** The ids of everything the fake world holds. */
export interface WorldIds {
  guildId: string;
  channelId: string;
  otherChannelId: string;
  threadId: string;
  dmChannelId: string;
  bot: FakeUser;
  ownerId: string;
}

/** READY: the fields discord.js needs (`user`, `guilds`, `application.id`, `session_id`, `resume_gateway_url`). */
export function readyPayload(ids: WorldIds, sessionId: string, gatewayUrl: string): Record<string, unknown> {
  return {
    v: 10,
    session_id: sessionId,
    resume_gateway_url: gatewayUrl,
    user: ids.bot,
    guilds: [{ id: ids.guildId, unavailable: true }],
    application: { id: ids.bot.id, flags: 0 },
    private_channels: [],
    shard: [0, 1],
  };
}

/** One guild with two text channels and a public thread under the first, as GUILD_CREATE carries it. */
export function guildCreatePayload(ids: WorldIds): Record<string, unknown> {
  const textChannel = (id: string, name: string, position: number) => ({
    id,
    type: ChannelKind.GuildText,
    guild_id: ids.guildId,
    name,
    position,
    permission_overwrites: [],
    parent_id: null,
    nsfw: false,
    topic: null,
    last_message_id: null,
    rate_limit_per_user: 0,
  });
  return {
    id: ids.guildId,
    name: 'Batchgate Test',
    icon: null,
    owner_id: ids.ownerId,
    unavailable: false,
    member_count: 3,
    large: false,
    features: [],
    roles: [{ id: ids.guildId, name: '@everyone', permissions: '1071698660929', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
    emojis: [],
    stickers: [],
    members: [],
    presences: [],
    voice_states: [],
    stage_instances: [],
    guild_scheduled_events: [],
    channels: [textChannel(ids.channelId, 'general', 0), textChannel(ids.otherChannelId, 'random', 1)],
    threads: [
      {
        id: ids.threadId,
        type: ChannelKind.PublicThread,
        guild_id: ids.guildId,
        parent_id: ids.channelId,
        owner_id: ids.ownerId,
        name: 'a thread',
        last_message_id: null,
        message_count: 0,
        member_count: 1,
        rate_limit_per_user: 0,
        flags: 0,
        thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: '2024-01-01T00:00:00.000Z', locked: false },
      },
    ],
    joined_at: '2024-01-01T00:00:00.000Z',
  };
}

/** A channel object for `GET /channels/{id}`. */
export function channelPayload(ids: WorldIds, channelId: string): Record<string, unknown> | null {
  const guild = guildCreatePayload(ids);
  const all = [...(guild.channels as Array<Record<string, unknown>>), ...(guild.threads as Array<Record<string, unknown>>)];
  const found = all.find((c) => c.id === channelId);
  if (found) return found;
  if (channelId === ids.dmChannelId) return { id: ids.dmChannelId, type: ChannelKind.DM, last_message_id: null, recipients: [] };
  return null;
}

/** An attachment a fake user message carries. */
export interface AttachmentInput {
  filename: string;
  url?: string;
  size?: number;
  contentType?: string;
}

/** Everything MESSAGE_CREATE carries; optional fields are left out when absent, as Discord does. */
export interface MessageInput {
  id: string;
  channelId: string;
  channelType: number;
  guildId: string | null;
  author: FakeUser;
  content: string;
  type?: number;
  nick?: string | null;
  mentions?: FakeUser[];
  mentionRoles?: string[];
  mentionEveryone?: boolean;
  attachments?: Array<AttachmentInput & { id: string }>;
  webhookId?: string;
  referenceMessageId?: string;
  nonce?: string;
}

/** A full message object, as MESSAGE_CREATE and `POST /channels/{id}/messages` carry it. */
export function messagePayload(m: MessageInput): Record<string, unknown> {
  const d: Record<string, unknown> = {
    id: m.id,
    channel_id: m.channelId,
    channel_type: m.channelType,
    type: m.type ?? MessageKind.Default,
    content: m.content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    pinned: false,
    flags: 0,
    mention_everyone: m.mentionEveryone ?? false,
    mentions: m.mentions ?? [],
    mention_roles: m.mentionRoles ?? [],
    attachments: (m.attachments ?? []).map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size ?? 1024,
      url: a.url ?? `https://cdn.discordapp.com/attachments/${m.channelId}/${a.id}/${a.filename}`,
      proxy_url: a.url ?? `https://media.discordapp.net/attachments/${m.channelId}/${a.id}/${a.filename}`,
      ...(a.contentType ? { content_type: a.contentType } : {}),
    })),
    embeds: [],
    components: [],
    author: m.author,
  };
  if (m.guildId) {
    d.guild_id = m.guildId;
    // Webhook messages carry no member object on the real gateway.
    if (!m.webhookId) d.member = { roles: [], nick: m.nick ?? null, joined_at: '2024-01-01T00:00:00.000Z', deaf: false, mute: false, flags: 0 };
  }
  if (m.webhookId) d.webhook_id = m.webhookId;
  if (m.referenceMessageId) {
    d.message_reference = { type: 0, message_id: m.referenceMessageId, channel_id: m.channelId, ...(m.guildId ? { guild_id: m.guildId } : {}) };
  }
  if (m.nonce) d.nonce = m.nonce;
  return d;
}

/**
 * TYPING_START as Discord sends it: `timestamp` in unix seconds, and in a guild the typist's `member`
 * (with its `user`), which is where discord.js takes the user from there; in a DM only `user_id`.
 */
export function typingStartPayload(t: { channelId: string; guildId: string | null; user: FakeUser; nick?: string | null }): Record<string, unknown> {
  const d: Record<string, unknown> = { channel_id: t.channelId, user_id: t.user.id, timestamp: Math.floor(Date.now() / 1000) };
  if (t.guildId) {
    d.guild_id = t.guildId;
    d.member = { user: t.user, roles: [], nick: t.nick ?? null, joined_at: '2024-01-01T00:00:00.000Z', deaf: false, mute: false, flags: 0 };
  }
  return d;
}
