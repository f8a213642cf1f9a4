/**
 * # Fake Telegram Bot API for the real grammY client
 *
 * ```ts
 * const tg = await startFakeTelegram();                    // onTestFinished(() => tg.close()), after the bot stops
 * new Bot(tg.token, { client: { apiRoot: tg.apiUrl } });    // or adapters.telegram.apiUrl: tg.apiUrl
 * tg.sendUserMessage({ text: 'hi' });                       // Alice in her private chat
 * tg.sendUserMessage({ chat: GROUP_CHAT, from: BOB, caption: 'look', photo: photoSizes('p1'), mediaGroupId: 'album-1' });
 * await tg.waitFor(() => tg.sent.length === 1, 'the reply');
 * tg.failNext('sendMessage', { retryAfter: 1 });            // the next sendMessage answers 429 + retry_after
 * ```
 *
 * Recorded: `calls` (every method call with its body and status), `sent` (the bot's messages and their
 * edits), `chatActions` (sendChatAction), `webhookDeliveries` (each POST to the webhook and its status).
 * `waitFor` is driven by those events, not a timer loop.
 */
export { startFakeTelegram } from './fake-telegram.js';
export type { BotApiCall, ChatActionCall, FailNextOptions, FakeTelegram, SentMessage, UserMessageInput, WebhookDelivery } from './fake-telegram.js';
export * from './payloads.js';
