import type { PlatformAdapter } from '../adapters/adapter.js';
import { DiscordAdapter } from '../adapters/discord/index.js';
import { SlackAdapter } from '../adapters/slack/index.js';
import { TelegramAdapter } from '../adapters/telegram/index.js';
import { WebAdapter } from '../adapters/web/index.js';
import { WebhookAdapter } from '../adapters/webhook/index.js';
import type { GatewayConfig } from './config/schema.js';

/** The adapters the config enables, in a fixed order. */
export function createAdapters(config: GatewayConfig): PlatformAdapter[] {
  const { web, webhook, discord, slack, telegram } = config.adapters;
  const adapters: PlatformAdapter[] = [];
  if (web.enabled) adapters.push(new WebAdapter({ maxFrameBytes: web.maxFrameBytes, maxAttachmentBytes: web.maxAttachmentBytes }));
  if (webhook.enabled) adapters.push(new WebhookAdapter({ ...webhook, bodyLimitBytes: config.http.bodyLimitBytes }));
  if (discord.enabled) adapters.push(new DiscordAdapter(discord));
  if (slack.enabled) adapters.push(new SlackAdapter(slack));
  if (telegram.enabled) adapters.push(new TelegramAdapter(telegram));
  return adapters;
}
