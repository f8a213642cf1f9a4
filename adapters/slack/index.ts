/** The Slack adapter (Bolt 5; Events API over the gateway's fastify server, or Socket Mode). */
export { SlackAdapter, type SlackAdapterOptions, type SlackConfig } from './slack-adapter.js';
export { FastifyReceiver, type FastifyReceiverOptions } from './fastify-receiver.js';
export { normalizeSlackEvent, parseSlackChannelId, parseSlackMessageId, slackMessageId } from './normalize.js';
export { SLACK_TEXT_LIMIT, splitText } from './split-text.js';
export { SLACK_KEPT_DATA_SCOPES, SLACK_LISTENER_EVENTS, SLACK_METHOD_SCOPES, slackBotEvents, slackBotScopes, type SlackMethod } from './requirements.js';
export { SlackUserNames, type SlackUserNamesOptions } from './user-names.js';
