import type { Logger } from 'pino';

/** One named step of a shutdown. */
export type CloseStep = readonly [name: string, run: () => unknown];

/**
 * Runs shutdown steps in order, each after the previous one settled, carrying on past a step that throws
 * or rejects (logged with its name): one broken part must not keep the others open.
 */
export async function runCloseSteps(logger: Logger | undefined, steps: readonly CloseStep[]): Promise<void> {
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (err) {
      logger?.error({ err, step: name }, 'shutdown step failed; continuing');
    }
  }
}
