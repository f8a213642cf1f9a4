import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const adminDir = path.join(root, 'src/admin');
const gatewayFile = path.join(root, 'src/gateway.ts');

/** Every `import … from '…'`, `export … from '…'` and `import('…')` specifier of a source file, type-only ones included. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) found.push(m[1]!);
  return found;
}

/** The repository's TypeScript file a relative `.js` specifier names, or undefined for packages. */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.resolve(path.dirname(from), specifier).replace(/\.js$/, '.ts');
  return existsSync(target) ? target : undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('src/admin depends on the AdminHost contract, not on the gateway', () => {
  const adminFiles = sourceFiles(adminDir);

  it('reads the admin sources it checks', () => {
    expect(adminFiles.map((f) => path.relative(root, f))).toEqual(expect.arrayContaining(['src/admin/server.ts', 'src/admin/host.ts', 'src/admin/routes/channels.ts']));
  });

  it('no file under src/admin imports gateway.js, not even for types', () => {
    const offenders = adminFiles.filter((file) => specifiers(readFileSync(file, 'utf8')).some((s) => /(^|\/)gateway\.js$/.test(s)));
    expect(offenders.map((f) => path.relative(root, f))).toEqual([]);
  });

  it('nothing src/admin imports, followed to its end, reaches src/gateway.ts (no cycle through another module)', () => {
    const seen = new Set<string>();
    const chains: string[][] = adminFiles.map((f) => [f]);
    const reached: string[][] = [];
    while (chains.length > 0) {
      const chain = chains.pop()!;
      const file = chain[chain.length - 1]!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
        const next = resolveLocal(file, specifier);
        if (next === undefined) continue;
        if (next === gatewayFile) reached.push([...chain, next]);
        else chains.push([...chain, next]);
      }
    }
    expect(reached.map((chain) => chain.map((f) => path.relative(root, f)).join(' → '))).toEqual([]);
    expect(seen.size).toBeGreaterThan(adminFiles.length); // it did follow imports out of src/admin
  });
});
