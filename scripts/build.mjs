#!/usr/bin/env node
// `npm run build`: compiles src/ and adapters/ into dist/ (JavaScript, declarations, source maps), then
// copies the files tsc does not emit (the pages, their scripts and styles, the Lua scripts) next to the
// compiled modules that read them, so dist/ runs on its own from any working directory.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

/** Copies every file under `dir` that is not TypeScript source to the same place under dist/. */
function copyAssets(dir) {
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(rel);
    else if (!entry.name.endsWith('.ts')) cpSync(path.join(root, rel), path.join(root, 'dist', rel));
  }
}
for (const dir of ['src', 'adapters']) copyAssets(dir);
