import { Command, Option } from 'commander';
import { registerAdminCommands } from './cli/admin-commands.js';

export const VERSION = '0.1.0';

/** `--config`, shared by the commands that read the config file. */
const configOption = () => new Option('-c, --config <path>', 'config file (else BATCHGATE_CONFIG, else config/default.yaml)');

/** The `batchgate` command line. Only `main.ts` runs it, so tests can build and parse it freely. */
export function buildCli(): Command {
  const program = new Command('batchgate')
    .description('Chat message batching gateway: coalesces bursts per channel and replies once.')
    .version(VERSION)
    .showHelpAfterError();

  program
    .command('start')
    .description('run the gateway (embedded mode: web chat, webhook and admin API on one port)')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      // Loaded here, not at the top: admin commands then start without pulling in discord.js and Bolt.
      const { runStart } = await import('./cli/start.js');
      // Exit once the gateway is closed: a processor that ignored its abort signal may still hold a
      // timer or socket, and a clean shutdown must not wait for it (it exits within shutdownTimeoutMs plus
      // a few seconds).
      process.exit(await runStart(opts.config));
    });

  program
    .command('worker')
    .description('run a distributed-mode worker: processes batches from Redis/BullMQ (needs redis.url)')
    .addOption(configOption())
    .action(async (opts: { config?: string }) => {
      const { runWorker } = await import('./cli/worker.js');
      process.exit(await runWorker(opts.config));
    });

  program
    .command('config')
    .description('check a config file and print the effective configuration (defaults filled in, secrets hidden); exit 1 if invalid')
    .addOption(configOption())
    .option('--json', 'print JSON instead of YAML')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { runConfigCommand } = await import('./cli/config-command.js');
      process.exitCode = await runConfigCommand(opts.config, opts.json === true);
    });

  registerAdminCommands(program);
  return program;
}
