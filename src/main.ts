import { buildCli } from './cli.js';

// Entry point of the `batchgate` binary (bin/batchgate.js runs its compiled form, dist/src/main.js).
await buildCli().parseAsync(process.argv);
