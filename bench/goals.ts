/** PASS/MISS judging for bench rows: each scenario can set `pass`; rows without it are judged from a `>= Nx` / `<= Nx` goal. */
import { printRows, type BenchRow } from './lib.js';

/** A row plus the verdict against its goal (undefined: informative row, no goal). */
export interface GoalRow extends BenchRow {
  pass?: boolean;
}

/** Parses goals of the form `>= 3x` or `<= 1.3x` (ratio ours/baseline); anything else is not judged. */
export function judge(row: GoalRow): boolean | undefined {
  if (row.pass !== undefined) return row.pass;
  const m = /^\s*(>=|<=|≥|≤)\s*([0-9.]+)\s*x\s*$/i.exec(row.goal ?? '');
  if (!m) return undefined;
  const ratio = row.ours / row.baseline;
  const bound = Number(m[2]);
  return m[1] === '>=' || m[1] === '≥' ? ratio >= bound : ratio <= bound;
}

/** Prints rows with printRows and appends PASS/MISS (or "info") to each line. */
export function printJudged(rows: GoalRow[], log: (line: string) => void): void {
  for (const row of rows) {
    const verdict = judge(row);
    printRows([row], (line) => log(`${line}  ${verdict === undefined ? 'info' : verdict ? 'PASS' : 'MISS'}`));
  }
}

/** Forces a full collection (needs --expose-gc); twice, so weak/finalizable leftovers of the first pass go too. */
export function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return;
  gc();
  gc();
}

/** setImmediate as a promise: lets timers and I/O run, like the gap between two incoming requests. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
