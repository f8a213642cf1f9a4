import { loadConfigOrReport } from './load-config.js';
import { createLogger } from '../logger.js';
import { onStopSignals } from './stop-signals.js';

/** `batchgate worker`: needs `redis.url`; SIGINT/SIGTERM drain running batches (a later second signal exits at once; copies within a second are one). */
export async function runWorker(configPath?: string): Promise<number> {
  const loaded = await loadConfigOrReport(configPath);
  if (loaded === null) return 1;
  const { config } = loaded;
  if (!config.redis.url) {
    process.stderr.write('batchgate worker: distributed mode needs redis.url (or REDIS_URL); see docs/distributed.md\n');
    return 2;
  }
  const logger = createLogger(config.log.level);
  const { WorkerProcess } = await import('../distributed/worker-process.js');
  const worker = new WorkerProcess({ config, logger });
  try {
    await worker.start();
  } catch (err) {
    logger.fatal({ err }, 'worker start-up failed');
    process.stderr.write(`batchgate worker: start-up failed: ${(err as Error).message}\n`);
    await worker.close().catch(() => undefined);
    return 1;
  }
  process.stdout.write(`  batchgate worker is running (processor: ${config.processor.type})\n  health   ${worker.url}/healthz\n`);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (kept running)'));
  return new Promise<number>((resolve) => {
    onStopSignals(logger, (signal) => {
      logger.info({ signal }, 'worker shutting down: letting running batches finish');
      worker.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'worker shutdown failed');
          resolve(1);
        },
      );
    });
  });
}
