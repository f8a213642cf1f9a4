export { DiscordAdapter, type DiscordAdapterConfig, type DiscordAdapterOptions } from './discord-adapter.js';
export { DISCORD_PLATFORM, dropReason, normalizeMessage, type DiscordDropReason, type DiscordExtra } from './normalize.js';
export { DISCORD_MESSAGE_LIMIT, splitMessage } from './split-message.js';
export { TYPING_REFRESH_MS } from './typing.js';
export { DISCORD_PERMISSION_BITS, DISCORD_PERMISSIONS, discordIntents, discordInviteUrl, privilegedToggles } from './requirements.js';
