/**
 * Builders for Events API payloads in Slack's real shapes (`event_callback` bodies and the events inside
 * them), so tests read as "Alice wrote hi in C123" rather than as JSON.
 */

/** Ids the fake workspace uses; the fake's auth.test answers with these. */
export const FAKE_SLACK_IDS = {
  teamId: 'T0FAKE001',
  appId: 'A0FAKE001',
  botUserId: 'U0BOT0001',
  botId: 'B0BOT0001',
} as const;

/** A message-like event (`message` or `app_mention`); any field may be overridden or added. */
export type SlackEventInput = Record<string, unknown> & { type?: string; channel?: string; user?: string; text?: string; ts?: string };

let tsCounter = 0;
let eventCounter = 0;

/** A fresh message timestamp (`seconds.micros`, strictly increasing within the process). */
export function nextTs(): string {
  tsCounter++;
  return `${1_700_000_000 + tsCounter}.${String(100 + (tsCounter % 900)).padStart(6, '0')}`;
}

/** A fresh `event_id` like Slack's (`Ev` + base-36). */
export function nextEventId(): string {
  eventCounter++;
  return `Ev0FAKE${eventCounter.toString(36).toUpperCase().padStart(5, '0')}`;
}

/** A `message` event in a public channel from a human, with fresh `ts`; override anything. */
export function messageEvent(overrides: SlackEventInput = {}): Record<string, unknown> {
  const ts = overrides.ts ?? nextTs();
  return {
    type: 'message',
    channel: 'C0CHAN001',
    channel_type: 'channel',
    user: 'U0ALICE01',
    text: 'hello',
    ts,
    event_ts: ts,
    client_msg_id: `cm-${ts}`,
    team: FAKE_SLACK_IDS.teamId,
    ...overrides,
  };
}

/** An `app_mention` event (`<@bot> text`); Slack sends it besides the `message` event when both are subscribed. */
export function appMentionEvent(overrides: SlackEventInput = {}): Record<string, unknown> {
  const ts = overrides.ts ?? nextTs();
  return {
    type: 'app_mention',
    channel: 'C0CHAN001',
    user: 'U0ALICE01',
    text: `<@${FAKE_SLACK_IDS.botUserId}> hello`,
    ts,
    event_ts: ts,
    client_msg_id: `cm-${ts}`,
    team: FAKE_SLACK_IDS.teamId,
    ...overrides,
  };
}

/** Wraps an event in the `event_callback` envelope Slack POSTs (or puts in a Socket Mode `events_api` payload). */
export function eventCallback(event: Record<string, unknown>, options: { eventId?: string; eventTime?: number } = {}): Record<string, unknown> {
  return {
    token: 'legacy-verification-token',
    team_id: FAKE_SLACK_IDS.teamId,
    context_team_id: FAKE_SLACK_IDS.teamId,
    api_app_id: FAKE_SLACK_IDS.appId,
    event,
    type: 'event_callback',
    event_id: options.eventId ?? nextEventId(),
    event_time: options.eventTime ?? Math.floor(Date.now() / 1000),
    authorizations: [
      { enterprise_id: null, team_id: FAKE_SLACK_IDS.teamId, user_id: FAKE_SLACK_IDS.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-fake-${String(options.eventId ?? eventCounter)}`,
  };
}

/**
 * The `message` event Slack sends when a user edits `original` (subtype `message_changed`): the new
 * message under `message`, the old one under `previous_message`.
 */
export function messageChangedEvent(original: Record<string, unknown>, text: string): Record<string, unknown> {
  const ts = nextTs();
  const { channel, channel_type: channelType, ...message } = original;
  return {
    type: 'message',
    subtype: 'message_changed',
    channel,
    channel_type: channelType,
    hidden: true,
    message: { ...message, type: 'message', text, edited: { user: message.user, ts } },
    previous_message: { ...message, type: 'message' },
    ts,
    event_ts: ts,
  };
}

/** The `message` event Slack sends when `original` is deleted (subtype `message_deleted`). */
export function messageDeletedEvent(original: Record<string, unknown>): Record<string, unknown> {
  const ts = nextTs();
  const { channel, channel_type: channelType, ...message } = original;
  return { type: 'message', subtype: 'message_deleted', channel, channel_type: channelType, hidden: true, deleted_ts: message.ts, previous_message: { ...message, type: 'message' }, ts, event_ts: ts };
}
