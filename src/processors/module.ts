import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProcessorLoadError } from '../core/errors.js';
import type { Processor } from './processor.js';

/**
 * Loads a user's processor: a JS or TS file (TS runs through tsx, which `batchgate` registers) whose
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
