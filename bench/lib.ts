/** Shared helpers for `npm run bench`: timing, percentiles and the ratio table every scenario prints. */
import { performance } from 'node:perf_hooks';

export interface BenchRow {
  scenario: string;
  /** What was measured, e.g. "msgs/s" or "p99 ms". */
  metric: string;
  ours: number;
  baseline: number;
  baselineName: string;
  /** true when a larger number is better (throughput), false for latency/memory. */
  higherIsBetter: boolean;
  goal?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Runs fn `repeats` times interleaved with baseline (A/B/A/B) and returns the medians. */
export async function interleave(repeats: number, ours: () => Promise<number> | number, baseline: () => Promise<number> | number): Promise<{ ours: number; baseline: number; oursRuns: number[]; baselineRuns: number[] }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < repeats; i++) {
    a.push(await ours());
    b.push(await baseline());
  }
  return { ours: median(a), baseline: median(b), oursRuns: a, baselineRuns: b };
}

export const now = (): number => performance.now();

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (Math.abs(n) >= 100) return n.toFixed(0);
  return n.toFixed(3);
}

/** Prints rows as a fixed-width table with the ratio ours/baseline. */
export function printRows(rows: BenchRow[], log: (line: string) => void = console.log): void {
  for (const r of rows) {
    const ratio = r.baseline === 0 ? NaN : r.ours / r.baseline;
    log(
      `${r.scenario.padEnd(44)} ${r.metric.padEnd(16)} ours ${fmt(r.ours).padStart(9)}  ${r.baselineName.padEnd(22)} ${fmt(r.baseline).padStart(9)}  ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}x${r.goal ? `  (goal ${r.goal})` : ''}`,
    );
  }
}
