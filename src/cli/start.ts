import { loadConfigOrReport } from './load-config.js';
import { GatewayError } from '../errors.js';
import { createGateway } from '../gateway.js';
import { createLogger } from '../logger.js';
import { banner } from './banner.js';
import { onStopSignals } from './stop-signals.js';

/**
 * `batchgate start`: the only place that touches process signals. The first SIGINT/SIGTERM shuts down
 * gracefully (flush, drain, spool); its copies within a second are the same request (Ctrl+C under
 * `npm start` arrives twice); a signal after that exits at once.
 */
export async function runStart(configPath?: string): Promise<number> {
  const loaded = await loadConfigOrReport(configPath);
  if (loaded === null) return 1;
  const { config } = loaded;
  const logger = createLogger(config.log.level);
  const gateway = createGateway({ config, logger });
  try {
    await gateway.start();
  } catch (err) {
    const coded = err instanceof GatewayError ? `${err.code}: ` : '';
    logger.fatal({ err }, 'start-up failed');
    process.stderr.write(`batchgate: start-up failed: ${coded}${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(banner(gateway, loaded.path));

  // A stray rejection in a platform library must not take down every channel's open batches: log it.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (kept running)');
  });
  // An uncaught exception leaves state unknown: shut down the graceful way (flush, drain, spool), then exit 1.
  process.once('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: shutting down');
    const hardStop = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5_000);
    hardStop.unref();
    gateway.close().finally(() => process.exit(1));
  });

  return new Promise<number>((resolve) => {
    onStopSignals(logger, (signal) => {
      logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down: flushing open batches');
      gateway.close().then(
        (report) => {
          logger.flush();
          resolve(report.lost > 0 ? 1 : 0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    });
  });
}
