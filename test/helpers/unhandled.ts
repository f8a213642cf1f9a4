import { onTestFinished } from 'vitest';

/** Collects `unhandledRejection`s until the test ends (vitest would also fail the run on one; this names it). */
export function watchUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  onTestFinished(() => void process.off('unhandledRejection', onUnhandled));
  return seen;
}
