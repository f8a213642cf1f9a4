import { buildCli } from './cli.js';

// Entry point of the `batchgate` binary (bin/batchgate.js loads tsx, then this file).
await buildCli().parseAsync(process.argv);
