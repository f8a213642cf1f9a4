import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProcessorLoadError } from '../errors.js';
import type { Processor } from './processor.js';

/** File names Node cannot import without a TypeScript loader. */
const TYPESCRIPT_FILE = /\.(?:[cm]?ts|tsx)$/;

let typescriptLoader: Promise<void> | undefined;

/**
 * Registers tsx's ESM loader once, the first time a TypeScript module is loaded. The compiled gateway
 * needs no loader of its own, so a JavaScript processor never pays tsx's start-up cost.
 */
function ensureTypeScriptLoader(): Promise<void> {
  typescriptLoader ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return typescriptLoader;
}

/**
 * Loads a user's processor: a JS or TS file (TS runs through tsx, registered only for a TS file) whose
 * default export is the processor function. Any failure names the file and the cause, so start-up stops
 * with something the operator can act on.
 */
export async function loadModuleProcessor(modulePath: string, baseDir = process.cwd()): Promise<Processor> {
  const file = path.resolve(baseDir, modulePath);
  try {
    await access(file);
  } catch {
    throw new ProcessorLoadError(file, 'file not found (processor.path is resolved from the working directory)');
  }
  let mod: Record<string, unknown>;
  try {
    if (TYPESCRIPT_FILE.test(file)) await ensureTypeScriptLoader();
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ProcessorLoadError(file, `import failed: ${(err as Error).message}`, err);
  }
  // A CommonJS module imported from ESM puts its exports under `default`; accept `module.exports = fn` too.
  let candidate = mod.default;
  if (candidate && typeof candidate === 'object' && typeof (candidate as { default?: unknown }).default === 'function') {
    candidate = (candidate as { default: unknown }).default;
  }
  if (typeof candidate !== 'function') {
    const found = candidate === undefined ? 'no default export' : `a default export of type ${typeof candidate}`;
    throw new ProcessorLoadError(file, `${found}; write \`export default async function (batch, ctx) { ... }\``);
  }
  return candidate as Processor;
}
