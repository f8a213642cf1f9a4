import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/spawn-gateway.js';

/** A repository path: it starts at one of the top-level folders the docs point into (`dist/…` is built, so not one). */
const REPO_PATH = /(?<![\w./-])((?:src|adapters|test|bench|docs|config|deploy|scripts|bin|examples)\/[\w.\-/<>]*)/g;

/**
 * Every repository path the page names, in order of appearance (duplicates kept once): those in backticks,
 * and those in prose, headings and the ASCII diagrams, which name files too.
 */
function repoPaths(markdown: string): string[] {
  const found = new Set<string>();
  for (const m of markdown.matchAll(REPO_PATH)) found.add(m[1]!.replace(/[.,;:]+$/, ''));
  return [...found];
}

/**
 * What must exist for a path to be true: the path itself, or for a pattern such as `adapters/<name>/` the
 * folder before its first placeholder.
 */
function mustExist(docPath: string): string {
  const placeholder = docPath.indexOf('<');
  if (placeholder === -1) return docPath;
  return docPath.slice(0, docPath.lastIndexOf('/', placeholder) + 1);
}

function missingPaths(markdown: string, root: string): string[] {
  return repoPaths(markdown).filter((p) => !existsSync(path.join(root, mustExist(p))));
}

describe('docs/ARCHITECTURE.md names only files of this repository', () => {
  it('every path it names under src/, adapters/, test/, bench/, docs/, config/, deploy/, scripts/, bin/ or examples/ exists', async () => {
    const doc = await readFile(path.join(REPO_ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
    // The page names the tree file by file; a handful would mean the extraction stopped seeing them.
    expect(repoPaths(doc).length).toBeGreaterThan(80);
    expect(missingPaths(doc, REPO_ROOT)).toEqual([]);
  });

  it('reports a path that is not in the tree, and a placeholder under a folder that is not', () => {
    const doc = [
      'The run lives in `src/core/batch-run.ts`; intake in `src/core/intake.ts`.',
      'A platform is `adapters/<name>/`, its fake in `test/fakes/<name>/`.',
      'Stale: `src/core/no-such-module.ts` re-exports, `src/nowhere/<step>.lua` runs (see `dist/src/main.js`).',
      ' adapter ── accept ──► Intake (src/core/no-such-intake.ts)',
    ].join('\n');
    expect(missingPaths(doc, REPO_ROOT)).toEqual(['src/core/no-such-module.ts', 'src/nowhere/<step>.lua', 'src/core/no-such-intake.ts']);
  });
});
