// The entry point as it was before the compiled package: tsx registered, then the TypeScript sources.
// The start-up bench runs it beside bin/batchgate.js (which runs dist/) to show what compiling saves.
import { register } from 'tsx/esm/api';

register();
await import('../../src/main.ts');
