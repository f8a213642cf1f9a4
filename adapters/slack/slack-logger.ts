import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from 'pino';

/**
 * Bolt, the WebClient and the Socket Mode client log through @slack/logger's interface; this routes them
 * into the gateway's pino logger so there is one log stream with one level. Their info chatter
 * ("Now connected to Slack") is kept at debug: the adapter logs its own lifecycle at info.
 */
export function toSlackLogger(log: Logger): SlackLogger {
  const text = (msg: unknown[]): string => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg) => log.debug(text(msg)),
    info: (...msg) => log.debug(text(msg)),
    warn: (...msg) => log.warn(text(msg)),
    error: (...msg) => log.error(text(msg)),
    // The level belongs to the gateway's logger; Bolt asking to change it is ignored on purpose.
    setLevel: () => undefined,
    getLevel: () => {
      const level = log.level;
      if (level === 'trace' || level === 'debug') return LogLevel.DEBUG;
      if (level === 'info') return LogLevel.INFO;
      if (level === 'warn') return LogLevel.WARN;
      return LogLevel.ERROR;
    },
    setName: () => undefined,
  };
}
