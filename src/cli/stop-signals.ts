import type { Logger } from 'pino';

/** Options of {@link onStopSignals}. */
export interface StopSignalOptions {
  /**
   * Copies of a signal arriving within this long of the first are one request to stop. Ctrl+C under
   * `npm start` signals the whole foreground group, npm and the gateway, and npm forwards its copy
   * too: the gateway sees SIGINT twice within milliseconds. @defaultValue 1000
   */
  repeatWindowMs?: number;
  /** What a later signal does once logged. @defaultValue exit with 130 */
  exitNow?: () => void;
}

/**
 * Calls `onStop` at the first SIGINT or SIGTERM. A copy arriving within `repeatWindowMs` of it is
 * ignored; a signal after that (a second Ctrl+C from an impatient operator) logs that the process exits
 * without finishing its shutdown, and exits at once. The listeners stay installed (`on`, not `once`),
 * so no copy ever reaches Node's default handler, which would kill the process mid-drain.
 * Returns what removes them.
 */
export function onStopSignals(logger: Logger, onStop: (signal: NodeJS.Signals) => void, options: StopSignalOptions = {}): () => void {
  const repeatWindowMs = options.repeatWindowMs ?? 1_000;
  const exitNow = options.exitNow ?? (() => process.exit(130));
  let firstAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      onStop(signal);
      return;
    }
    if (now - firstAt <= repeatWindowMs) {
      logger.debug({ signal }, 'the same stop request again (a terminal and npm both forward Ctrl+C): already stopping');
      return;
    }
    logger.warn({ signal }, 'second stop signal: exiting now, without finishing the shutdown (messages still waiting may be lost)');
    logger.flush();
    exitNow();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
