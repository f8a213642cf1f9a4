/**
 * What the Slack adapter asks of a Slack app, in one place: every Web API method it calls and every Bolt
 * event it listens to, with the bot scopes and Events API subscriptions each one needs. The adapter can
 * only call methods listed here (its call helper takes a {@link SlackMethod}), and the manifest in
 * docs/platforms/slack.md is checked against these lists by a test, so neither can drift from the code.
 */

/** Web API methods the adapter calls with the bot token, and the bot scopes they need. */
export const SLACK_METHOD_SCOPES = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  /** Streamed replies: the posted message is edited as the answer grows. */
  'chat.update': ['chat:write'],
  'reactions.add': ['reactions:write'],
  'reactions.remove': ['reactions:write'],
  /** Only with `resolveNames: true`. */
  'users.info': ['users:read'],
} as const satisfies Record<string, readonly string[]>;

/** A Web API method the adapter may call. */
export type SlackMethod = keyof typeof SLACK_METHOD_SCOPES;

/**
 * Bolt event listeners the adapter registers, with the Events API subscriptions ("bot events") that
 * deliver them and the scopes those need. `message` covers public and private channels, DMs and group DMs.
 */
export const SLACK_LISTENER_EVENTS = {
  message: {
    'message.channels': 'channels:history',
    'message.groups': 'groups:history',
    'message.im': 'im:history',
    'message.mpim': 'mpim:history',
  },
  app_mention: { app_mention: 'app_mentions:read' },
} as const;

/** An event the adapter listens to. */
export type SlackListenerEvent = keyof typeof SLACK_LISTENER_EVENTS;

/**
 * Scopes for what the adapter hands on rather than calls: `extra.files[].url` is Slack's `url_private`,
 * which a processor can download only with `files:read`.
 */
export const SLACK_KEPT_DATA_SCOPES = ['files:read'] as const;

/** The bot events to subscribe to. */
export function slackBotEvents(): string[] {
  return Object.values(SLACK_LISTENER_EVENTS).flatMap((events) => Object.keys(events));
}

/** Every bot scope the adapter can use (sorted): its methods', its events' and the kept data's. */
export function slackBotScopes(): string[] {
  const scopes = new Set<string>([
    ...Object.values(SLACK_METHOD_SCOPES).flat(),
    ...Object.values(SLACK_LISTENER_EVENTS).flatMap((events) => Object.values(events)),
    ...SLACK_KEPT_DATA_SCOPES,
  ]);
  return [...scopes].sort();
}
