import type { Metric, Registry } from 'prom-client';

/** One label value's counts; the hot path keeps it and calls `observe`. */
export class HistogramSeries {
  /** Per bucket (not cumulative); the last slot is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** A sample as prom-client's Registry prints it. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram whose observation is a bucket search and three additions. prom-client's own
 * Histogram allocates and hashes a label object and stringifies the bucket bound on every observe (~1 µs,
 * profiled), and the engine observes four per batch. It plugs into a prom-client Registry, which only reads
 * `name`, `help`, `type`, `get()` and `reset()`.
 */
export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bySeries = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registers: Registry[],
    /** With a label, each value gets its own series (`series(value)`); without, `observe` feeds the one series. */
    private readonly labelName?: string,
  ) {
    if (labelName === undefined) this.series('');
    for (const registry of registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label value (created at its first use, printed from then on). Keep it: look-ups cost. */
  series(labelValue: string): HistogramSeries {
    let series = this.bySeries.get(labelValue);
    if (series === undefined) this.bySeries.set(labelValue, (series = new HistogramSeries(this.bounds)));
    return series;
  }

  observe(value: number): void {
    this.series('').observe(value);
  }

  /** Cumulative buckets, sum and count per series, in the shape prom-client's Registry formats. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const [labelValue, series] of this.bySeries) {
      const labels: Record<string, string> = this.labelName === undefined ? {} : { [this.labelName]: labelValue };
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf', ...labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum }, { metricName: `${this.name}_count`, labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.bySeries.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
