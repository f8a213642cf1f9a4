/**
 * # Fake Discord (REST + gateway) for the real discord.js 14 client
 *
 * One loopback HTTP server (127.0.0.1, port 0) that speaks Discord API v10's wire format:
 * REST under `/api/v10` and the gateway WebSocket on `/` (JSON text frames; no zlib).
 *
 * ```ts
 * const fake = await startFakeDiscord();               // { token?, privilegedIntents?, heartbeatIntervalMs? }
 * onTestFinished(() => fake.close());                 // close the CLIENT first (client.destroy()), then the fake
 * new Client({ ..., rest: { api: fake.apiUrl } });     // apiUrl = http://127.0.0.1:PORT/api (client adds /v10/...)
 * await client.login(fake.token);
 * ```
 *
 * The world: one guild `guildId` with text channels `channelId` (general) and `otherChannelId` (random),
 * a public thread `threadId` under `channelId`, a DM channel `dmChannelId`, the bot `botUserId`,
 * a human `humanUser` (alice, display name Alice) and another bot `otherBotUser`. Every id is a snowflake.
 *
 * Gateway: HELLO → IDENTIFY (token checked: 4004 on mismatch; a privileged intent — Message Content, Server
 * Members, Presence — whose toggle is off in `privilegedIntents` is refused with close code 4014) → READY
 * (with `resume_gateway_url`) + GUILD_CREATE (only with the Guilds intent);
 * Strict like Discord about intents: each session gets only the dispatches its IDENTIFY intents ask for
 * (guild messages need GuildMessages, DMs DirectMessages, typing GuildMessageTyping/DirectMessageTyping…),
 * and a session without Message Content gets guild messages with `content`, `embeds`, `attachments`,
 * `components` emptied unless they mention the bot or are its own. `identifyIntents` records each IDENTIFY.
 * heartbeats ACKed; RESUME replays the events missed while the socket was down, then RESUMED;
 * an unknown session gets op 9. A client close with 1000/1001 ends its session, like Discord.
 *
 * REST: `GET /gateway/bot` (401 on a bad token, like every authenticated route), `GET /gateway`,
 * `GET /users/@me`, `GET /channels/{id}`, `POST /channels/{id}/typing` (204),
 * `POST /channels/{id}/messages` (validates like Discord: empty → 400 50006, > 2000 chars → 400 50035,
 * unknown `message_reference` with `fail_if_not_exists` → 400; answers the full message object and
 * echoes it on the gateway as MESSAGE_CREATE, as Discord does). Unknown channels → 404 10003.
 *
 * Test-facing API:
 * - `sendUserMessage({ channelId, content, author?, nick?, mentions?, mentionRoles?, mentionEveryone?,
 *   attachments?, type?, webhookId?, referenceMessageId? })` → message id; dispatches MESSAGE_CREATE
 *   with the right `channel_type`/`guild_id`/`member` for the channel.
 * - `sendBotMessage(...)`: same, authored by `otherBotUser` (or the given author with `bot: true`).
 * - `dispatch(t, d)`: any raw dispatch.
 * - `sendTyping({ channelId, userId? })`: TYPING_START by `userId` (default alice), with `member` in a
 *   guild as Discord sends it; only sessions with GuildMessageTyping / DirectMessageTyping get it.
 * - `postedMessages` (`{ id, channelId, body, content, at }`, successful posts in order),
 *   `postAttempts` (every POST /messages with its status), `typingCalls` (`{ channelId, at }`),
 *   `requests` (every REST call with status).
 * - `connections` (sockets ever accepted), `openConnections`, `identifies`, `resumes`, `heartbeats`,
 *   `closeCodes` (close code of every socket that ended: 1000 from `client.destroy()`, 1006 on a drop).
 * - `dropConnection()`: terminate every socket (client sees 1006 and resumes).
 * - `failNextPost(status, retryAfterSeconds?)`: the next POST /messages fails; 429 carries `Retry-After`.
 * - `waitFor(probe, what, timeoutMs = 10 s)`: polls until `probe()` is truthy; rejects naming `what`.
 * - `close()`: idempotent.
 */
export { startFakeDiscord } from './fake-discord.js';
export { Intent } from './fake-gateway.js';
export type { PrivilegedIntentSettings } from './fake-gateway.js';
export type { FakeDiscord, FakeDiscordOptions, PostAttempt, PostedMessage, UserMessageInput } from './fake-discord.js';
export { MessageKind, ChannelKind } from './payloads.js';
