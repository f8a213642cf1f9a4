import { TypingIndicator as PlatformTypingIndicator, type TypingIndicatorOptions } from '../typing-indicator.js';

/** Discord shows "typing…" for about 10 s per request; refreshing at 8 s keeps it on without gaps. */
export const TYPING_REFRESH_MS = 8_000;

/** The shared indicator with Discord's refresh interval. */
export class TypingIndicator extends PlatformTypingIndicator {
  constructor(options: Omit<TypingIndicatorOptions, 'platform' | 'intervalMs'> & { intervalMs?: number | undefined }) {
    super({ ...options, platform: 'discord', intervalMs: options.intervalMs ?? TYPING_REFRESH_MS });
  }
}
