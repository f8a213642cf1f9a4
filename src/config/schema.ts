import path from 'node:path';
import { z } from 'zod';
import { channelSettingsSchema, DEFAULT_SETTINGS, settingsRuleIssues } from '../core/policy.js';

// Values may come from `${VAR}` interpolation as strings; numbers and booleans written that way still parse.
const numeric = (inner: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v), inner);
const bool = () =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const settingsFields = channelSettingsSchema.shape;
const looseSettings = z.strictObject({
  windowMs: numeric(settingsFields.windowMs),
  maxBatchSize: numeric(settingsFields.maxBatchSize),
  maxWaitMs: numeric(settingsFields.maxWaitMs),
  disabled: bool(),
  mode: settingsFields.mode,
  maxQueuedBatches: numeric(settingsFields.maxQueuedBatches),
  overflow: settingsFields.overflow,
  processingTimeoutMs: numeric(settingsFields.processingTimeoutMs),
  typing: bool(),
  typingHoldMs: numeric(settingsFields.typingHoldMs),
  hold: settingsFields.hold,
  flushOn: settingsFields.flushOn,
  editAfterReply: settingsFields.editAfterReply,
  groupBy: settingsFields.groupBy,
});

const httpSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: numeric(z.number().int().min(0).max(65_535)).default(8787),
  /** Largest accepted request body. @defaultValue 262144 */
  bodyLimitBytes: numeric(z.number().int().min(1024)).default(262_144),
  /**
   * `Host` names (besides 127.0.0.1, localhost and [::1]) that the token-less admin API answers; `name`
   * allows any port, `name:port` one. @defaultValue []
   */
  allowedHosts: z.array(z.string().trim().min(1).regex(/^[^\s/@]+$/, 'a host name, optionally with :port')).default([]),
});

const processorSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('echo') }),
  z.strictObject({ type: z.literal('module'), path: z.string().min(1, 'write the path of a JS/TS file') }),
  z.strictObject({
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    timeoutMs: numeric(z.number().int().min(1)).default(30_000),
    secret: z.string().default(''),
    /** Tries for 5xx and network errors (never 4xx). @defaultValue 1 */
    attempts: numeric(z.number().int().min(1).max(10)).default(1),
  }),
  z.strictObject({
    type: z.literal('openai'),
    /** Any OpenAI-compatible chat-completions base URL (Ollama: `http://127.0.0.1:11434/v1`). @defaultValue https://api.openai.com/v1 */
    baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.openai.com/v1'),
    /** Bearer token; empty sends none (local servers). @defaultValue "" */
    apiKey: z.string().default(''),
    model: z.string().min(1, 'name the model, e.g. gpt-4o-mini or llama3.2'),
    system: z.string().optional(),
    /** User and assistant messages kept per channel. @defaultValue 10 */
    historyTurns: numeric(z.number().int().min(0).max(1_000)).default(10),
    maxTokens: numeric(z.number().int().min(1)).optional(),
    temperature: numeric(z.number().min(0).max(2)).optional(),
    stream: bool().default(true),
    /** Bounds each request, until the last byte of the answer. @defaultValue 120000 */
    timeoutMs: numeric(z.number().int().min(1)).default(120_000),
    /** Tries for 429, 5xx and network errors (Retry-After honoured). @defaultValue 3 */
    attempts: numeric(z.number().int().min(1).max(10)).default(3),
  }),
]);

const webSchema = z.strictObject({
  enabled: bool().default(true),
  /** Largest WebSocket frame; bigger frames close the socket with code 1009. @defaultValue 16384 */
  maxFrameBytes: numeric(z.number().int().min(256)).default(16_384),
  /** Largest file the chat page may attach (decoded; sent as a base64 data URL); 0 turns attaching off. @defaultValue 65536 */
  maxAttachmentBytes: numeric(z.number().int().min(0).max(4_194_304)).default(65_536),
});

const webhookSchema = z.strictObject({
  enabled: bool().default(true),
  secret: z.string().default(''),
  replyUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
  /** How long a message id is remembered to answer duplicates. @defaultValue 600000 */
  dedupeTtlMs: numeric(z.number().int().min(1_000)).default(600_000),
  replyAttempts: numeric(z.number().int().min(1).max(20)).default(6),
  replyBackoffMs: numeric(z.number().int().min(1)).default(250),
  replyBackoffMaxMs: numeric(z.number().int().min(1)).default(5_000),
  replyTimeoutMs: numeric(z.number().int().min(1)).default(10_000),
});

const discordSchema = z.strictObject({
  enabled: bool().default(false),
  token: z.string().default(''),
  apiUrl: z.string().default(''),
  mentionOnly: bool().default(false),
  channels: z.array(z.string()).default([]),
  /** Send the reply as a Discord reply to the batch's last message. @defaultValue false */
  replyToLast: bool().default(false),
});

const slackSchema = z.strictObject({
  enabled: bool().default(false),
  mode: z.enum(['http', 'socket']).default('http'),
  botToken: z.string().default(''),
  signingSecret: z.string().default(''),
  appToken: z.string().default(''),
  apiUrl: z.string().default(''),
  /** Reaction shown while a message waits (empty: off). @defaultValue 'eyes' */
  receiptReaction: z.string().default('eyes'),
  /** Reaction that replaces it once the reply is posted. @defaultValue 'white_check_mark' */
  doneReaction: z.string().default('white_check_mark'),
  /** Look up each author's display name with `users.info` (needs the `users:read` scope), cached. @defaultValue false */
  resolveNames: bool().default(false),
});

/** Telegram's secret_token: 1–256 characters of A–Z, a–z, 0–9, _ and -. */
const TELEGRAM_SECRET = /^[A-Za-z0-9_-]{1,256}$/;

const telegramSchema = z.strictObject({
  enabled: bool().default(false),
  /** Bot token from @BotFather (`123456789:AA…`). */
  token: z.string().default(''),
  /** `polling`: the gateway asks Telegram (getUpdates); `webhook`: Telegram POSTs to `/telegram/webhook`. @defaultValue 'polling' */
  mode: z.enum(['polling', 'webhook']).default('polling'),
  /** Webhook mode: the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`; other requests are refused. */
  webhookSecret: z.union([z.literal(''), z.string().regex(TELEGRAM_SECRET, 'use 1–256 characters of A–Z, a–z, 0–9, _ and -')]).default(''),
  /** Webhook mode: the public https URL of `/telegram/webhook`; set, the adapter registers it (setWebhook) at start. */
  webhookUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
  /** Bot API root (empty: https://api.telegram.org); a local Bot API server or the test fake. */
  apiUrl: z.string().default(''),
});

/** Distributed mode (docs/distributed.md): Redis keys, BullMQ queue, failure policy and recovery timings. */
const distributedSchema = z.strictObject({
  /** Prefix of every Redis key and of the BullMQ queue; gateways and workers of one cluster share it. @defaultValue 'bg' */
  prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - only').default('bg'),
  /** Shards the channels are spread over (each one Cluster slot). Same on every process. @defaultValue 16 */
  shards: numeric(z.number().int().min(1).max(1024)).default(16),
  /** Runs of a failing batch before `onBatchFailed` applies. @defaultValue 3 */
  attempts: numeric(z.number().int().min(1).max(100)).default(3),
  /** First retry delay of a failed batch (exponential). @defaultValue 1000 */
  backoffMs: numeric(z.number().int().min(0)).default(1_000),
  /** A batch that failed every attempt: `dead-letter` (kept for the admin API, the channel moves on) or `block` (the channel pauses with the batch at its front). */
  onBatchFailed: z.enum(['dead-letter', 'block']).default('dead-letter'),
  /** BullMQ job lock; a worker silent this long loses its batch to another worker. @defaultValue 30000 */
  lockDurationMs: numeric(z.number().int().min(500)).default(30_000),
  /** How often BullMQ looks for stalled jobs. @defaultValue 30000 */
  stalledIntervalMs: numeric(z.number().int().min(500)).default(30_000),
  /** Safety poll for deadlines armed by a gateway that died. @defaultValue 250 */
  pollMs: numeric(z.number().int().min(10).max(60_000)).default(250),
  /** How often the reconciler re-dispatches batches whose dispatch was lost between two steps. @defaultValue 5000 */
  reconcileMs: numeric(z.number().int().min(100)).default(5_000),
  /** In-flight batches the reconciler examines per pass; it walks through all of them over successive passes. @defaultValue 500 */
  reconcileBatch: numeric(z.number().int().min(1).max(100_000)).default(500),
  /** How long a message id is remembered to drop platform retries. @defaultValue 86400000 (24 h) */
  dedupeTtlMs: numeric(z.number().int().min(1_000)).default(86_400_000),
  /** Keep messages' `raw` platform payload in Redis (off: it can be large and hold personal data). */
  keepRaw: bool().default(false),
});

/** OpenTelemetry tracing (docs/configuration.md "Tracing"): off, with no SDK loaded, until `otlp.endpoint` is set. */
const telemetrySchema = z.strictObject({
  otlp: z
    .strictObject({
      /** The collector's OTLP/HTTP URL, e.g. `http://localhost:4318` (`/v1/traces` is appended). Empty: tracing off. */
      endpoint: z.union([z.literal(''), z.url({ protocol: /^https?$/, message: 'an http(s) URL such as http://localhost:4318' })]).default(''),
      /** Sent with every export (a vendor's API key header, for instance). */
      headers: z.record(z.string(), z.string()).default({}),
    })
    .default({ endpoint: '', headers: {} }),
  /** `service.name` of the spans. @defaultValue 'batchgate' */
  serviceName: z.string().min(1).default('batchgate'),
});

/** The whole configuration file. Defaults live here; code receives `GatewayConfig` (the parsed output). */
/** Embedded mode's crash journal: `always` on disk before a message is acknowledged, `everysec` written to the OS before and on disk within ~1 s, `off` none. */
const journalSchema = z.strictObject({
  /** The journal's directory. @defaultValue `journal` beside `state.spoolPath`: ./data/journal */
  path: z.string().min(1).optional(),
  /** @defaultValue everysec */
  fsync: z.enum(['always', 'everysec', 'off']).default('everysec'),
});

export const configSchema = z
  .strictObject({
    http: httpSchema.default(httpSchema.parse({})),
    admin: z.strictObject({ token: z.string().default('') }).default({ token: '' }),
    batching: z
      .strictObject({
        /** Gateway-wide cap on batches running at once. @defaultValue 32 */
        maxConcurrentBatches: numeric(z.number().int().min(1).max(100_000)).default(32),
        /** Share of maxQueuedBatches at which a channel warns. @defaultValue 0.75 */
        queueWarnRatio: numeric(z.number().gt(0).max(1)).default(0.75),
        defaults: looseSettings.partial().default({}),
        channels: z.array(looseSettings.partial().extend({ match: z.string().min(1) })).default([]),
      })
      .default({ maxConcurrentBatches: 32, queueWarnRatio: 0.75, defaults: {}, channels: [] }),
    processor: processorSchema.default({ type: 'echo' }),
    adapters: z
      .strictObject({
        web: webSchema.default(webSchema.parse({})),
        webhook: webhookSchema.default(webhookSchema.parse({})),
        discord: discordSchema.default(discordSchema.parse({})),
        slack: slackSchema.default(slackSchema.parse({})),
        telegram: telegramSchema.default(telegramSchema.parse({})),
      })
      .default({
        web: webSchema.parse({}),
        webhook: webhookSchema.parse({}),
        discord: discordSchema.parse({}),
        slack: slackSchema.parse({}),
        telegram: telegramSchema.parse({}),
      }),
    redis: z.strictObject({ url: z.string().default('') }).default({ url: '' }),
    /** Distributed mode tuning (used only when `redis.url` is set). */
    distributed: distributedSchema.default(distributedSchema.parse({})),
    state: z
      .strictObject({
        /**
         * A spool file left by an older version (which wrote one at shutdown): replayed once into the
         * journal at start, then removed. @defaultValue ./data/spool.jsonl
         */
        spoolPath: z.string().min(1).default('./data/spool.jsonl'),
        /** Embedded mode's crash journal (unused in distributed mode). */
        journal: journalSchema.default(journalSchema.parse({})),
      })
      .default({ spoolPath: './data/spool.jsonl', journal: journalSchema.parse({}) })
      // A config that moved the spool (a test's temp dir, a container volume) keeps the journal beside it.
      .transform((state) => ({ ...state, journal: { ...state.journal, path: state.journal.path ?? path.join(path.dirname(state.spoolPath), 'journal') } })),
    /** How long in-flight batches get to finish at shutdown. @defaultValue 10000 */
    shutdownTimeoutMs: numeric(z.number().int().min(0)).default(10_000),
    log: z
      .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .default({ level: 'info' }),
    telemetry: telemetrySchema.default(telemetrySchema.parse({})),
    observability: z
      .strictObject({
        /** Decision-timeline entries kept per channel (`GET /api/v1/channels/:key/timeline`); 0 keeps none. @defaultValue 200 */
        timelineSize: numeric(z.number().int().min(0).max(100_000)).default(200),
      })
      .default({ timelineSize: 200 }),
  })
  .superRefine((cfg, ctx) => {
    const d = cfg.adapters.discord;
    if (d.enabled && !d.token)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'discord', 'token'], message: 'discord is enabled: set adapters.discord.token (or DISCORD_TOKEN)' });
    const s = cfg.adapters.slack;
    if (s.enabled && !s.botToken)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'slack', 'botToken'], message: 'slack is enabled: set adapters.slack.botToken (or SLACK_BOT_TOKEN) to the Bot User OAuth Token (xoxb-…)' });
    if (s.enabled && s.mode === 'http' && !s.signingSecret)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'slack', 'signingSecret'], message: '`mode: http` needs adapters.slack.signingSecret (or SLACK_SIGNING_SECRET)' });
    if (s.enabled && s.mode === 'socket' && !s.appToken)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'slack', 'appToken'], message: '`mode: socket` needs adapters.slack.appToken (or SLACK_APP_TOKEN), an app-level token (xapp-…)' });
    const t = cfg.adapters.telegram;
    if (t.enabled && !t.token)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'telegram', 'token'], message: 'telegram is enabled: set adapters.telegram.token (or TELEGRAM_BOT_TOKEN) to the token from @BotFather' });
    if (t.enabled && t.mode === 'webhook' && !t.webhookSecret)
      ctx.addIssue({ code: 'custom', path: ['adapters', 'telegram', 'webhookSecret'], message: '`mode: webhook` needs adapters.telegram.webhookSecret (1–256 of A–Z a–z 0–9 _ -), so only Telegram can post updates' });
    const defaults = { ...DEFAULT_SETTINGS, ...cfg.batching.defaults };
    checkWindowFitsMaxWait(defaults, ['batching', 'defaults'], ctx);
    // A pattern's channels get the defaults with the pattern on top.
    cfg.batching.channels.forEach((pattern, i) => checkWindowFitsMaxWait({ ...defaults, ...pattern }, ['batching', 'channels', i], ctx));
  });

function checkWindowFitsMaxWait(settings: { windowMs: number; maxWaitMs: number; disabled: boolean }, path: Array<string | number>, ctx: z.RefinementCtx): void {
  for (const issue of settingsRuleIssues(settings)) ctx.addIssue({ code: 'custom', path: [...path, ...issue.path.split('.')], message: issue.message });
}

/** What operators write. */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** What code receives: every default filled in. */
export type GatewayConfig = z.output<typeof configSchema>;
export type ProcessorConfig = GatewayConfig['processor'];
export type TelemetryConfig = GatewayConfig['telemetry'];
