import { z } from 'zod';
import { InvalidSettingsError, type FieldIssue } from '../errors.js';

/** The content rules a hold can use (src/core/turn-rules.ts). */
export const HOLD_RULES = ['openFence', 'trailingColon', 'ellipsis', 'phrases'] as const;
export type HoldRule = (typeof HOLD_RULES)[number];

/** The default content holds: every rule, 15 s, the phrases people end an unfinished message with. */
export const DEFAULT_HOLD = Object.freeze({
  rules: Object.freeze([...HOLD_RULES]) as unknown as HoldRule[],
  holdMs: 15_000,
  phrases: Object.freeze(['logs below', 'one sec', 'hold on', 'wait', 'brb', 'more below', 'continued']) as unknown as string[],
});

/** `hold`: fields left out take their defaults, so `hold: { rules: [] }` turns content holds off. */
function holdSettingsSchema() {
  return z.strictObject({
    rules: z.array(z.enum(HOLD_RULES)).default(DEFAULT_HOLD.rules),
    holdMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_HOLD.holdMs),
    phrases: z.array(z.string().trim().min(1).max(200)).max(100).default(DEFAULT_HOLD.phrases),
  });
}

/** A `flushOn` entry: a plain string, or `/source/flags`, which must compile. */
const flushOnEntrySchema = z.string().min(1).max(500).superRefine((entry, ctx) => {
  const error = regexError(entry);
  if (error !== null) ctx.addIssue({ code: 'custom', message: `${entry} is not a valid regular expression (${error}); write a plain string or /source/flags` });
});

/** `/source/flags` as a RegExp, or null for a plain string; throws on a bad expression. */
export function flushOnRegex(entry: string): RegExp | null {
  const m = /^\/(.+)\/([a-z]*)$/s.exec(entry);
  return m === null ? null : new RegExp(m[1]!, m[2]);
}

function regexError(entry: string): string | null {
  try {
    flushOnRegex(entry);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Per-channel batching settings (docs/configuration.md). */
export const channelSettingsSchema = z.strictObject({
  /** Quiet period: flush when no message arrived for this long (sliding). @defaultValue 5000 */
  windowMs: z.number().int().min(0).max(86_400_000),
  /** Flush at once when the open batch reaches this size. @defaultValue 10 */
  maxBatchSize: z.number().int().min(1).max(10_000),
  /** Flush when the batch's first message is this old, even if messages keep coming. @defaultValue 30000 */
  maxWaitMs: z.number().int().min(0).max(86_400_000),
  /** No coalescing: each message is its own batch. @defaultValue false */
  disabled: z.boolean(),
  /**
   * `queue`: wait behind the in-flight batch; `interrupt`: abort it and re-run merged; `steer`: offer it to
   * the running processor (`ctx.steered()`), running next what it does not take. @defaultValue 'queue'
   */
  mode: z.enum(['queue', 'interrupt', 'steer']),
  /** Bound on batches waiting behind the in-flight one. @defaultValue 100 */
  maxQueuedBatches: z.number().int().min(1).max(100_000),
  /** What happens at the bound. @defaultValue 'merge' */
  overflow: z.enum(['merge', 'drop-oldest', 'reject']),
  /** Abort the processor's signal after this long. @defaultValue 120000 */
  processingTimeoutMs: z.number().int().min(1).max(86_400_000),
  /** Adapters show a typing indicator while a batch is open or in flight. @defaultValue true */
  typing: z.boolean(),
  /** A typing signal from an author of the open batch keeps it open at least this long (capped by maxWaitMs); 0 ignores typing. @defaultValue 10000 */
  typingHoldMs: z.number().int().min(0).max(86_400_000),
  /** Content holds: while the batch's latest message looks unfinished, its window is `holdMs`. @defaultValue see {@link DEFAULT_HOLD} */
  hold: holdSettingsSchema(),
  /** Strings (whole words or phrases, case-insensitive) or `/regex/flags`: a matching message seals its batch at once. @defaultValue [] */
  flushOn: z.array(flushOnEntrySchema).max(100),
  /**
   * An edit of a message whose batch was already answered: `ignore` it, or run the edited message as a
   * new batch (`followUp`, the message marked `edited: true`). @defaultValue 'ignore'
   */
  editAfterReply: z.enum(['ignore', 'followUp']),
  /**
   * `author`: in a group channel each author's burst is its own batch, key `platform:channelId/userId`.
   * Resolved on the channel key; the author's batches use the channel's settings. @defaultValue 'channel'
   */
  groupBy: z.enum(['channel', 'author']),
});

export type ChannelSettings = z.infer<typeof channelSettingsSchema>;

export const DEFAULT_SETTINGS: Readonly<ChannelSettings> = Object.freeze({
  windowMs: 5_000,
  maxBatchSize: 10,
  maxWaitMs: 30_000,
  disabled: false,
  mode: 'queue',
  maxQueuedBatches: 100,
  overflow: 'merge',
  processingTimeoutMs: 120_000,
  typing: true,
  typingHoldMs: 10_000,
  hold: DEFAULT_HOLD,
  flushOn: Object.freeze([]) as unknown as string[],
  editAfterReply: 'ignore',
  groupBy: 'channel',
});

/** A partial override, as the admin API and config patterns take it. */
export const settingsOverrideSchema = channelSettingsSchema.partial();
export type SettingsOverride = z.infer<typeof settingsOverrideSchema>;

/** A config pattern: `match` is an exact key or a glob with `*`. */
export interface SettingsPattern extends SettingsOverride {
  match: string;
}

/** Turns zod issues into the field list our errors carry. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

/**
 * The rules between settings that no single field's schema can check, for effective settings (defaults,
 * pattern and override merged). One function for the config file (its schema) and for live overrides
 * (`PUT …/settings`), so both refuse the same things with the same words. Paths are field names.
 */
export function settingsRuleIssues(settings: Pick<ChannelSettings, 'windowMs' | 'maxWaitMs' | 'disabled'>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (settings.maxWaitMs < settings.windowMs && !settings.disabled) {
    issues.push({
      path: 'maxWaitMs',
      message: `maxWaitMs (${settings.maxWaitMs}) is below windowMs (${settings.windowMs}): batches would always flush by maxWait; raise maxWaitMs`,
    });
  }
  return issues;
}

/** Validates an override; throws {@link InvalidSettingsError} naming each failing field. */
export function parseSettingsOverride(input: unknown): SettingsOverride {
  const result = settingsOverrideSchema.safeParse(input);
  if (!result.success) throw new InvalidSettingsError(toFieldIssues(result.error));
  return stripUndefined(result.data);
}

function stripUndefined<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Compiles `discord:*`-style globs once; `*` matches any run of characters, everything else is literal. */
export function compileGlob(pattern: string): (key: string) => boolean {
  if (!pattern.includes('*')) return (key) => key === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`);
  return (key) => re.test(key);
}

/**
 * Resolves a channel's effective settings: channel override → first matching config pattern → defaults.
 * Pattern results are cached per key, since a hot channel resolves on every message.
 */
export class SettingsPolicy {
  private readonly defaults: ChannelSettings;
  /** Each pattern with its settings merged over the defaults once, so resolving allocates nothing. */
  private readonly patterns: Array<{ test: (key: string) => boolean; settings: ChannelSettings }>;

  constructor(defaults: Partial<ChannelSettings> = {}, patterns: SettingsPattern[] = []) {
    this.defaults = Object.freeze({ ...DEFAULT_SETTINGS, ...defaults });
    this.patterns = patterns.map(({ match, ...values }) => ({
      test: compileGlob(match),
      settings: Object.freeze({ ...this.defaults, ...stripUndefined(values) }),
    }));
  }

  /** Settings for a key ignoring overrides (config only). */
  base(key: string): ChannelSettings {
    for (const p of this.patterns) if (p.test(key)) return p.settings;
    return this.defaults;
  }

  /** Effective settings given an optional channel override. */
  resolve(key: string, override?: SettingsOverride | null): ChannelSettings {
    const base = this.base(key);
    return override ? Object.freeze({ ...base, ...override }) : base;
  }
}
