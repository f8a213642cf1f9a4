import type { Logger } from 'pino';
import { ErrorCode, type RefusalCode } from '../src/errors.js';
import { RecentKeys } from '../src/core/recent-keys.js';

/** Why `accept` refused a message: `AcceptResult.reason`. */
export type RefusalReason = RefusalCode;

/**
 * What the sender reads when their message was not taken: what happened, why, what to do. Duplicates
 * (the message is already queued) and invalid input (nothing the sender can fix by resending) get none.
 */
const NOTICE_TEXT: Partial<Record<RefusalReason, string>> = {
  [ErrorCode.QueueFull]: "⚠️ Your message was not taken: this channel's queue is full. Please send it again in a moment.",
  [ErrorCode.ShuttingDown]: '⚠️ Your message was not taken: the bot is restarting. Please send it again in a minute.',
  [ErrorCode.Unavailable]: '⚠️ Your message was not taken: the bot cannot store messages right now. Please send it again in a moment.',
};

/** The notice for a refusal, or undefined when the sender is not told. */
export function refusalNoticeText(reason: RefusalReason): string | undefined {
  return NOTICE_TEXT[reason];
}

/** What {@link RefusalNotices.notify} did: a post is under way, the channel had one lately, or no notice fits. */
export type NoticeOutcome = 'posting' | 'throttled' | 'none';

export interface RefusalNoticesOptions {
  logger: Logger;
  /** At most one notice per channel within this. @defaultValue 10000 */
  intervalMs?: number;
  /** Channels remembered at once; past it the oldest is forgotten, so memory stays bounded. @defaultValue 10000 */
  maxChannels?: number;
  now?: () => number;
}

/**
 * Tells senders on the platform that their message was refused (the `overflow: reject` policy promises that the
 * adapter tells the sender), at most once per channel per interval: a flood of refused messages must not turn
 * into a flood of posts against the platform's rate limits. Posting is fire-and-forget; a failure is
 * logged and never reaches the message handler.
 */
export class RefusalNotices {
  readonly #recent: RecentKeys;
  readonly #log: Logger;

  constructor(options: RefusalNoticesOptions) {
    this.#log = options.logger;
    this.#recent = new RecentKeys(options.maxChannels ?? 10_000, options.intervalMs ?? 10_000, options.now);
  }

  /** Posts the notice for `reason` in `channelId` through `post`, unless none fits or the channel had one lately. */
  notify(channelId: string, reason: RefusalReason, post: (text: string) => Promise<unknown>): NoticeOutcome {
    const text = refusalNoticeText(reason);
    if (text === undefined) return 'none';
    if (!this.#recent.addIfNew(channelId)) return 'throttled';
    const failed = (err: unknown): void => this.#log.warn({ err, channelId, reason }, 'refusal notice could not be posted');
    try {
      post(text).catch(failed);
    } catch (err) {
      failed(err);
    }
    return 'posting';
  }
}
