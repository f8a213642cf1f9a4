export { TELEGRAM_EDIT_INTERVAL_MS, TelegramAdapter, type TelegramAdapterConfig, type TelegramAdapterOptions, type TelegramStats } from './telegram-adapter.js';
export { TELEGRAM_PLATFORM, TELEGRAM_TEXT_LIMIT, channelIdOf, parseChannelId, type TelegramExtra, type TelegramFile, type TelegramTarget } from './normalize.js';
export { TELEGRAM_WEBHOOK_PATH } from './webhook-route.js';
