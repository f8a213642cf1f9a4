import { ConfigError } from '../errors.js';

/** Rejects queue settings that would make `send` wait forever or never queue. */
export function validateQueueOptions(options: { queueSize?: number; writeTimeoutMs?: number }, where: string): void {
  const { queueSize, writeTimeoutMs } = options;
  if (queueSize !== undefined && !(queueSize === Infinity || (Number.isInteger(queueSize) && queueSize >= 1))) {
    throw new ConfigError(`bus ${where}: queueSize must be an integer >= 1 or Infinity`, [
      { path: 'queueSize', message: `got ${queueSize}; use at least 1 (or Infinity for unbounded)` },
    ]);
  }
  if (writeTimeoutMs !== undefined && !(Number.isFinite(writeTimeoutMs) && writeTimeoutMs >= 0)) {
    throw new ConfigError(`bus ${where}: writeTimeoutMs must be a finite number >= 0`, [
      { path: 'writeTimeoutMs', message: `got ${writeTimeoutMs}; a full queue must not block a producer forever` },
    ]);
  }
}
