#!/usr/bin/env node
// Entry point: runs the compiled CLI (`npm run build` writes dist/; `npm ci` and `npm pack` run it).
// No TypeScript loader here: one is registered only when a TypeScript processor module is configured.
await import('../dist/src/main.js');
