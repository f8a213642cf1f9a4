/**
 * A fake Slack on loopback that speaks Slack's wire formats, for the real @slack/bolt 5 client.
 *
 * ```ts
 * const slack = await startFakeSlack();             // onTestFinished(() => slack.close())
 * // point the adapter (or any Bolt app) at it:
 * //   botToken: slack.botToken, appToken: slack.appToken, signingSecret: slack.signingSecret, apiUrl: slack.apiUrl
 * await slack.postEvent(eventsUrl, eventCallback(messageEvent({ text: 'hi' })));   // signed Events API POST
 * await slack.waitForSocket(); const id = slack.sendEnvelope(eventCallback(...));  // Socket Mode
 * await slack.waitFor(() => slack.posts().length === 1);
 * ```
 *
 * What it serves (one HTTP server, 127.0.0.1, port 0):
 * - Web API `POST {apiUrl}{method}` (form-encoded or JSON, `Authorization: Bearer`), answering HTTP 200 +
 *   `{ ok, ... }` like Slack: `auth.test` (bot token; `authError` makes it `{ok:false,error}`),
 *   `chat.postMessage` (records, answers a fresh `ts`; `failNextPost(429, retryAfterSec)` makes the next
 *   call(s) fail with `Retry-After`), `chat.postEphemeral` (records, answers `{ ok, message_ts }`; no echo,
 *   as Slack sends no event for an ephemeral message), `reactions.add` / `reactions.remove` (keeps real reaction state:
 *   `already_reacted`, `no_reaction`), `apps.connections.open` (app token only; answers the socket URL),
 *   `chat.update` (the bot's own messages only: `cant_update_message` otherwise), `users.info` (the world's
 *   users: `user_not_found` otherwise).
 *   Anything else: `{ok:false,error:'unknown_method'}`. A wrong token: `{ok:false,error:'invalid_auth'}`.
 * - Strict like Slack about where things go: the bot can post, update and react only in channels it knows
 *   (`channels` option, `addChannel()`, or any channel an event was delivered from): `channel_not_found`
 *   otherwise. `thread_ts` must be a known top-level message of that channel (`invalid_thread_ts`, which
 *   is what Slack answers for a reply's ts; for an unknown ts the fake assumes the same), and
 *   `chat.update` / `reactions.*` need a known message ts (`message_not_found`). Messages become known
 *   when an event carrying them is delivered, or when the bot posts them.
 * - Redelivery, as Slack does when an event is not acknowledged within 3 s (`ackTimeoutMs`): an Events
 *   API POST that gets no response in time (`http_timeout`), a non-2xx without `X-Slack-No-Retry: 1`
 *   (`http_error`) or no connection (`connection_failed`) is POSTed again, re-signed, with
 *   `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`; a Socket Mode envelope whose ack does not arrive in
 *   time is sent again as a new envelope with `retry_attempt` / `retry_reason: "timeout"`. Three retries
 *   at most, after `retryDelaysMs` (Slack: at once, ~1 min, ~5 min). `redeliveries` records each one;
 *   `loseAcks(n)` drops the next n acks as if lost on the way (to test the client's dedupe). Requests a
 *   test forges (`signature`, `secret`, `timestamp` or `rawBody` given) are not retried: Slack did not send them.
 * - Socket Mode WebSocket at `/socket`: sends `{"type":"hello"}` on connect, records every ack
 *   (`{envelope_id, payload}`) the client sends, `sendEnvelope()` delivers an `events_api` envelope,
 *   `disconnectSocket(reason)` sends `{"type":"disconnect","reason"}` (the client must reconnect).
 * - `echoBotPosts`: like Slack, each successful `chat.postMessage` comes back as a `message` event from the
 *   bot (`bot_id`, `user` = bot user), over the socket when one is open, else POSTed to `eventsUrl`,
 *   so loop protection is exercised.
 *
 * Recorded: `calls` (every Web API call in arrival order, with method, args, token, HTTP status),
 * `acks` (envelope ids the client acknowledged), `connections` (sockets opened so far), `redeliveries`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { WebSocketServer, type WebSocket } from 'ws';
import { eventCallback, FAKE_SLACK_IDS, nextTs } from './events.js';
import { nowSec, signSlackRequest } from './sign.js';

export { FAKE_SLACK_IDS } from './events.js';

/** One Web API call as the fake received it. */
export interface FakeSlackCall {
  method: string;
  args: Record<string, string>;
  /** The bearer token (or `token` form field) the call carried. */
  token: string;
  /** HTTP status the fake answered with. */
  status: number;
  /** The JSON the fake answered with. */
  response: Record<string, unknown>;
  at: number;
}

export interface PostEventOptions {
  /** Signing secret to sign with (default: the fake's). */
  secret?: string;
  /** `X-Slack-Request-Timestamp` (epoch seconds; default now). */
  timestamp?: number;
  /** Replace the computed signature (to forge one). */
  signature?: string;
  /** Send `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`, as Slack does on redelivery. */
  retryNum?: number;
  retryReason?: string;
  contentType?: string;
  /** Send this exact raw body instead of `JSON.stringify(body)`. */
  rawBody?: string;
}

export interface PostEventResult {
  status: number;
  text: string;
  headers: Headers;
}

export interface FakeSlackOptions {
  /** Make `auth.test` answer `{ok:false,error}` (e.g. `invalid_auth`). */
  authError?: string;
  /** Make `apps.connections.open` answer `{ok:false,error}`. */
  connectionsOpenError?: string;
  /** Echo the bot's own posts back as message events (default false). */
  echoBotPosts?: boolean;
  /**
   * Channels the bot is in from the start (more become known as events arrive from them).
   * @defaultValue ['C0CHAN001'] (the channel `messageEvent` writes in)
   */
  channels?: string[];
  /** Users `users.info` knows besides the default ones: id → display name. */
  users?: Record<string, string>;
  /** Slack's ack deadline for an event. @defaultValue 3000 */
  ackTimeoutMs?: number;
  /** Delay before each retry of an unacknowledged event. @defaultValue [0, 60000, 300000] */
  retryDelaysMs?: number[];
}

/** One redelivery of an event the client did not acknowledge in time. */
export interface FakeSlackRedelivery {
  transport: 'http' | 'socket';
  eventId: string;
  /** 1 for the first retry. */
  attempt: number;
  reason: string;
  /** The new envelope's id (Socket Mode). */
  envelopeId?: string;
}

/** The users `users.info` knows by default (the fake events' authors). */
export const FAKE_SLACK_USERS: Readonly<Record<string, string>> = { U0ALICE01: 'Alice', U0BOB0001: 'Bob', U0DAVE001: 'Dave' };

export interface FakeSlack {
  /** Web API base, with the trailing slash WebClient expects: `http://127.0.0.1:PORT/api/`. */
  apiUrl: string;
  botToken: string;
  appToken: string;
  signingSecret: string;
  ids: typeof FAKE_SLACK_IDS;
  options: FakeSlackOptions;
  /** Where `echoBotPosts` POSTs when no socket is open. */
  eventsUrl: string;
  /** Echoes of bot posts delivered so far: the HTTP status (POST) or 0 (sent on the socket). */
  echoes: number[];
  calls: FakeSlackCall[];
  /** Calls of one method, in order. */
  callsTo(method: string): FakeSlackCall[];
  /** Successful `chat.postMessage` calls' args, in order. */
  posts(): Array<Record<string, string>>;
  /** Reactions currently on a message. */
  reactionsOn(channel: string, ts: string): string[];
  /**
   * `count` `chat.postMessage` calls answer `status` (429 carries `Retry-After: retryAfterSec`), starting
   * after `afterPosts` more successful posts (default 0: the very next call).
   */
  failNextPost(status: number, retryAfterSec?: number, count?: number, afterPosts?: number): void;
  /** Signs (unless `signature` is given) and POSTs an Events API body to `url`. */
  postEvent(url: string, body: Record<string, unknown>, options?: PostEventOptions): Promise<PostEventResult>;
  /** Envelope ids the Socket Mode client acknowledged, in order. */
  acks: string[];
  /** Sockets opened so far (reconnects add one). */
  connections(): number;
  /** Resolves when a socket is open and has been sent hello. */
  waitForSocket(timeoutMs?: number): Promise<void>;
  /** Sends an `events_api` envelope on the open socket; returns its `envelope_id`. */
  sendEnvelope(payload: Record<string, unknown>, options?: { retryAttempt?: number; retryReason?: string; envelopeId?: string }): string;
  /** Every redelivery so far, in order. */
  redeliveries: FakeSlackRedelivery[];
  /** The next `count` acks are dropped as if lost on the way, so those envelopes are redelivered. */
  loseAcks(count?: number): void;
  /** The bot joins a channel (it can then post there). */
  addChannel(channel: string): void;
  /**
   * A message that exists without its event having reached the bot (written before the bot joined, or
   * by someone the bot does not hear), e.g. the parent of a thread; `threadTs` makes it a reply.
   */
  addMessage(channel: string, ts: string, threadTs?: string): void;
  /** Asks the client to reconnect, like Slack recycling a connection. */
  disconnectSocket(reason?: 'refresh_requested' | 'warning' | 'too_many_websockets' | 'link_disabled'): void;
  /** Polls `check` until it holds (default 10 s); rejects naming `what` on timeout. */
  waitFor(check: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1, port 0. Always `close()` it (e.g. in `onTestFinished`). */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = 'xoxb-fake-bot-token';
  const appToken = 'xapp-1-fake-app-token';
  const signingSecret = 'fake-signing-secret-0123456789abcdef';
  const calls: FakeSlackCall[] = [];
  const acks: string[] = [];
  const reactions = new Map<string, Set<string>>();
  const postFailures: Array<{ status: number; retryAfterSec?: number }> = [];
  let postsBeforeFailures = 0;
  const sockets = new Set<WebSocket>();
  let connectionCount = 0;
  let envelopeCounter = 0;
  let baseUrl = '';
  const ackTimeoutMs = options.ackTimeoutMs ?? 3_000;
  const retryDelaysMs = options.retryDelaysMs ?? [0, 60_000, 300_000];
  const channels = new Set(options.channels ?? ['C0CHAN001']);
  /** Per channel: ts → the thread it is in (undefined for a top-level message) and whether the bot wrote it. */
  const messages = new Map<string, Map<string, { threadTs?: string; byBot: boolean }>>();
  const users = { ...FAKE_SLACK_USERS, ...options.users };
  const redeliveries: FakeSlackRedelivery[] = [];
  /** Envelopes sent and not yet acknowledged: envelope id → its ack deadline. */
  const unacked = new Map<string, NodeJS.Timeout>();
  const timers = new Set<NodeJS.Timeout>();
  let acksToLose = 0;
  let closed = false;

  function later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) fn();
    }, ms);
    timers.add(timer);
    return timer;
  }

  function remember(channel: string, ts: string, threadTs: string | undefined, byBot: boolean): void {
    channels.add(channel);
    const known = messages.get(channel) ?? new Map<string, { threadTs?: string; byBot: boolean }>();
    messages.set(channel, known);
    if (!known.has(ts)) known.set(ts, { threadTs: threadTs && threadTs !== ts ? threadTs : undefined, byBot });
  }

  /** What a delivered event tells the world: its channel exists and its message does. */
  function learn(body: Record<string, unknown>): void {
    const event = body.event as { channel?: unknown; ts?: unknown; thread_ts?: unknown; subtype?: unknown } | undefined;
    if (!event || typeof event.channel !== 'string') return;
    channels.add(event.channel);
    if (typeof event.ts === 'string' && event.subtype !== 'message_changed' && event.subtype !== 'message_deleted') {
      remember(event.channel, event.ts, typeof event.thread_ts === 'string' ? event.thread_ts : undefined, false);
    }
  }

  /** Slack's answer when `channel` / `thread_ts` / `ts` point nowhere, else undefined. */
  function refusal(args: Record<string, string>, need: { thread?: boolean; ts?: string }): string | undefined {
    if (!args.channel || !channels.has(args.channel)) return 'channel_not_found';
    const known = messages.get(args.channel);
    if (need.thread && args.thread_ts) {
      const parent = known?.get(args.thread_ts);
      if (!parent || parent.threadTs) return 'invalid_thread_ts';
    }
    if (need.ts !== undefined && !known?.has(need.ts)) return 'message_not_found';
    return undefined;
  }

  const server = createServer((req, res) => {
    void handleHttp(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: 'fake_internal_error', detail: String(err) }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });

  server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith('/socket')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connectionCount++;
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        try {
          const msg = JSON.parse(String(data)) as { envelope_id?: unknown };
          if (typeof msg.envelope_id !== 'string') return;
          acks.push(msg.envelope_id);
          if (acksToLose > 0) {
            acksToLose--;
            return;
          }
          clearTimeout(unacked.get(msg.envelope_id));
          unacked.delete(msg.envelope_id);
        } catch {
          // Slack ignores frames it cannot parse; so does the fake.
        }
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: sockets.size, debug_info: { host: 'fake-slack', approximate_connection_time: 18060 }, connection_info: { app_id: FAKE_SLACK_IDS.appId } }));
    });
  });

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'POST' || !url.pathname.startsWith('/api/')) {
      send(res, 404, { ok: false, error: 'not_found' });
      return;
    }
    const method = url.pathname.slice('/api/'.length);
    const raw = await readBody(req);
    const contentType = String(req.headers['content-type'] ?? '');
    const args: Record<string, string> = {};
    if (contentType.startsWith('application/json')) {
      for (const [k, v] of Object.entries(JSON.parse(raw || '{}') as Record<string, unknown>)) args[k] = typeof v === 'string' ? v : JSON.stringify(v);
    } else {
      for (const [k, v] of Object.entries(parseQuery(raw))) args[k] = Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
    }
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : (args.token ?? '');
    const { status, body, headers } = answer(method, args, token);
    calls.push({ method, args, token, status, response: body, at: Date.now() });
    send(res, status, body, headers);
  }

  function answer(method: string, args: Record<string, string>, token: string): { status: number; body: Record<string, unknown>; headers?: Record<string, string> } {
    if (method === 'apps.connections.open') {
      if (token !== appToken) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
      if (options.connectionsOpenError) return { status: 200, body: { ok: false, error: options.connectionsOpenError } };
      return { status: 200, body: { ok: true, url: `${baseUrl.replace('http://', 'ws://')}/socket?ticket=t${connectionCount + 1}&app_id=${FAKE_SLACK_IDS.appId}` } };
    }
    if (token !== botToken) return { status: 200, body: { ok: false, error: token ? 'invalid_auth' : 'not_authed' } };
    switch (method) {
      case 'auth.test':
        if (options.authError) return { status: 200, body: { ok: false, error: options.authError } };
        return {
          status: 200,
          body: {
            ok: true,
            url: 'https://fake-workspace.slack.com/',
            team: 'Fake Workspace',
            user: 'batchgate',
            team_id: FAKE_SLACK_IDS.teamId,
            user_id: FAKE_SLACK_IDS.botUserId,
            bot_id: FAKE_SLACK_IDS.botId,
            is_enterprise_install: false,
          },
        };
      case 'chat.postMessage': {
        const failure = postsBeforeFailures > 0 ? undefined : postFailures.shift();
        if (postsBeforeFailures > 0) postsBeforeFailures--;
        if (failure) {
          const headers: Record<string, string> = failure.retryAfterSec === undefined ? {} : { 'retry-after': String(failure.retryAfterSec) };
          return { status: failure.status, body: { ok: false, error: failure.status === 429 ? 'ratelimited' : 'fake_failure' }, headers };
        }
        const refused = refusal(args, { thread: true });
        if (refused) return { status: 200, body: { ok: false, error: refused } };
        if (!args.text && !args.blocks) return { status: 200, body: { ok: false, error: 'no_text' } };
        const ts = nextTs();
        remember(args.channel!, ts, args.thread_ts, true);
        const message = { type: 'message', text: args.text ?? '', user: FAKE_SLACK_IDS.botUserId, bot_id: FAKE_SLACK_IDS.botId, app_id: FAKE_SLACK_IDS.appId, ts, team: FAKE_SLACK_IDS.teamId, ...(args.thread_ts ? { thread_ts: args.thread_ts } : {}) };
        if (options.echoBotPosts) setImmediate(() => echo({ ...message, channel: args.channel, channel_type: 'channel', event_ts: ts }));
        return { status: 200, body: { ok: true, channel: args.channel, ts, message } };
      }
      case 'chat.postEphemeral':
        // Slack shows it to `user` alone and sends no event for it, so nothing is echoed.
        const refusedEphemeral = refusal(args, { thread: true });
        if (refusedEphemeral) return { status: 200, body: { ok: false, error: refusedEphemeral } };
        if (!args.user) return { status: 200, body: { ok: false, error: 'user_not_in_channel' } };
        if (!args.text && !args.blocks && !args.attachments) return { status: 200, body: { ok: false, error: 'no_text' } };
        return { status: 200, body: { ok: true, message_ts: nextTs() } };
      case 'reactions.add':
      case 'reactions.remove': {
        if (!args.channel || !args.timestamp || !args.name) return { status: 200, body: { ok: false, error: 'invalid_arguments' } };
        const refusedReaction = refusal(args, { ts: args.timestamp });
        if (refusedReaction) return { status: 200, body: { ok: false, error: refusedReaction } };
        const key = `${args.channel}:${args.timestamp}`;
        const set = reactions.get(key) ?? new Set<string>();
        reactions.set(key, set);
        if (method === 'reactions.add') {
          if (set.has(args.name)) return { status: 200, body: { ok: false, error: 'already_reacted' } };
          set.add(args.name);
        } else {
          if (!set.has(args.name)) return { status: 200, body: { ok: false, error: 'no_reaction' } };
          set.delete(args.name);
        }
        return { status: 200, body: { ok: true } };
      }
      case 'chat.update': {
        const refusedUpdate = refusal(args, { ts: args.ts ?? '' });
        if (refusedUpdate) return { status: 200, body: { ok: false, error: refusedUpdate } };
        if (!messages.get(args.channel!)?.get(args.ts!)?.byBot) return { status: 200, body: { ok: false, error: 'cant_update_message' } };
        if (!args.text && !args.blocks) return { status: 200, body: { ok: false, error: 'no_text' } };
        return { status: 200, body: { ok: true, channel: args.channel, ts: args.ts, text: args.text ?? '' } };
      }
      case 'users.info': {
        const name = args.user ? users[args.user] : undefined;
        if (!args.user || name === undefined) return { status: 200, body: { ok: false, error: 'user_not_found' } };
        const handle = name.toLowerCase().replace(/\s+/g, '.');
        return {
          status: 200,
          body: { ok: true, user: { id: args.user, team_id: FAKE_SLACK_IDS.teamId, name: handle, real_name: name, is_bot: false, profile: { display_name: name, real_name: name } } },
        };
      }
      default:
        return { status: 200, body: { ok: false, error: 'unknown_method' } };
    }
  }

  function openSocket(): WebSocket | undefined {
    return [...sockets].reverse().find((ws) => ws.readyState === ws.OPEN);
  }

  function echo(event: Record<string, unknown>): void {
    const body = eventCallback(event);
    if (openSocket()) {
      fake.sendEnvelope(body);
      fake.echoes.push(0);
    } else if (fake.eventsUrl) {
      void fake.postEvent(fake.eventsUrl, body).then(
        (r) => fake.echoes.push(r.status),
        () => fake.echoes.push(-1),
      );
    }
  }

  /**
   * One Events API POST, and Slack's retry when it is not acknowledged with a 2xx within the deadline.
   * Only requests signed the way Slack signs are retried (a forged or stale one is not Slack's to retry).
   */
  async function deliverHttp(url: string, body: Record<string, unknown>, opts: PostEventOptions): Promise<PostEventResult> {
    const raw = opts.rawBody ?? JSON.stringify(body);
    const timestamp = opts.timestamp ?? nowSec();
    const headers: Record<string, string> = {
      'content-type': opts.contentType ?? 'application/json',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': opts.signature ?? signSlackRequest(opts.secret ?? signingSecret, timestamp, raw),
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    };
    if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
    if (opts.retryReason !== undefined) headers['x-slack-retry-reason'] = opts.retryReason;
    const retryable = opts.signature === undefined && opts.secret === undefined && opts.timestamp === undefined && opts.rawBody === undefined;
    let settled = false;
    const retry = (reason: string): void => {
      if (settled || !retryable) return;
      settled = true;
      const attempt = (opts.retryNum ?? 0) + 1;
      const delay = retryDelaysMs[attempt - 1];
      if (delay === undefined) return;
      later(delay, () => {
        redeliveries.push({ transport: 'http', eventId: String(body.event_id ?? ''), attempt, reason });
        void deliverHttp(url, body, { ...opts, retryNum: attempt, retryReason: reason }).catch(() => undefined);
      });
    };
    const deadline = later(ackTimeoutMs, () => retry('http_timeout'));
    try {
      const res = await fetch(url, { method: 'POST', headers, body: raw, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      clearTimeout(deadline);
      timers.delete(deadline);
      if (res.status >= 200 && res.status < 300) settled = true;
      else if (res.headers.get('x-slack-no-retry') === '1') settled = true;
      else retry('http_error');
      return { status: res.status, text, headers: res.headers };
    } catch (err) {
      clearTimeout(deadline);
      timers.delete(deadline);
      retry('connection_failed');
      throw err;
    }
  }

  /** Sends an `events_api` envelope; without an ack in time it is sent again as a new envelope. */
  function deliverEnvelope(payload: Record<string, unknown>, attempt: number, reason: string, id?: string): string {
    const ws = openSocket();
    if (!ws) throw new Error('fake slack: no open Socket Mode connection to send an envelope on');
    envelopeCounter++;
    const envelopeId = id ?? `env-${envelopeCounter}-${Date.now().toString(36)}`;
    ws.send(JSON.stringify({ envelope_id: envelopeId, payload, type: 'events_api', accepts_response_payload: false, retry_attempt: attempt, retry_reason: reason }));
    const deadline = setTimeout(() => {
      unacked.delete(envelopeId);
      const delay = retryDelaysMs[attempt];
      if (closed || delay === undefined) return;
      later(delay, () => {
        const next = attempt + 1;
        try {
          const resent = deliverEnvelope(payload, next, 'timeout');
          redeliveries.push({ transport: 'socket', eventId: String(payload.event_id ?? ''), attempt: next, reason: 'timeout', envelopeId: resent });
        } catch {
          // No socket open: Slack would try again later; the fake records nothing it did not send.
        }
      });
    }, ackTimeoutMs);
    unacked.set(envelopeId, deadline);
    return envelopeId;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeSlack = {
    apiUrl: `${baseUrl}/api/`,
    botToken,
    appToken,
    signingSecret,
    ids: FAKE_SLACK_IDS,
    options,
    eventsUrl: '',
    echoes: [],
    calls,
    acks,
    callsTo: (method) => calls.filter((c) => c.method === method),
    posts: () => calls.filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.response.ok === true).map((c) => c.args),
    reactionsOn: (channel, ts) => [...(reactions.get(`${channel}:${ts}`) ?? [])],
    failNextPost(status, retryAfterSec, count = 1, afterPosts = 0) {
      postsBeforeFailures = afterPosts;
      for (let i = 0; i < count; i++) postFailures.push({ status, retryAfterSec });
    },
    async postEvent(url, body, opts = {}) {
      learn(body);
      return deliverHttp(url, body, opts);
    },
    connections: () => connectionCount,
    async waitForSocket(timeoutMs = 15_000) {
      await fake.waitFor(() => openSocket() !== undefined, timeoutMs, 'an open Socket Mode connection');
    },
    sendEnvelope(payload, opts = {}) {
      learn(payload);
      return deliverEnvelope(payload, opts.retryAttempt ?? 0, opts.retryReason ?? '', opts.envelopeId);
    },
    redeliveries,
    loseAcks(count = 1) {
      acksToLose += count;
    },
    addChannel(channel) {
      channels.add(channel);
    },
    addMessage(channel, ts, threadTs) {
      remember(channel, ts, threadTs, false);
    },
    disconnectSocket(reason = 'refresh_requested') {
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
    },
    async waitFor(check, timeoutMs = 10_000, what = 'condition') {
      const until = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > until) throw new Error(`fake slack: timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      closed = true;
      for (const timer of [...timers, ...unacked.values()]) clearTimeout(timer);
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

export { eventCallback, messageEvent, appMentionEvent, nextTs, nextEventId } from './events.js';
export { signSlackRequest, nowSec } from './sign.js';
