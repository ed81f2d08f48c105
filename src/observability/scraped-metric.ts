// A metric whose values are read from plain numbers when the registry is scraped. It speaks
// prom-client's metric protocol (name, help, type, aggregator, get), so it renders, and aggregates
// across workers, exactly like a prom-client Counter, Gauge or Histogram, without any label hashing
// on the paths that record the numbers.

import type { Metric, Registry } from 'prom-client';
import { aggregatorOf, DURATION_BUCKETS_SECONDS, type MetricSpec } from './metric-catalog.js';
import type { DurationBuckets } from './region-metrics.js';

export type Labels = Record<string, string | number>;

interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** What a metric's reader writes its current values into, once per scrape. */
export class Series {
  readonly samples: Sample[] = [];

  constructor(private readonly name: string) {}

  value(labels: Labels, value: number): void {
    this.samples.push({ labels, value });
  }

  /** One histogram's cumulative buckets, +Inf, sum and count under `labels`. */
  histogram(labels: Labels, h: Readonly<DurationBuckets>): void {
    const bucketName = `${this.name}_bucket`;
    let cumulative = 0;
    DURATION_BUCKETS_SECONDS.forEach((le, i) => {
      cumulative += h.buckets[i]!;
      this.samples.push({ labels: { ...labels, le }, value: cumulative, metricName: bucketName });
    });
    this.samples.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: bucketName });
    this.samples.push({ labels, value: h.sum, metricName: `${this.name}_sum` });
    this.samples.push({ labels, value: h.count, metricName: `${this.name}_count` });
  }
}

class ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;

  constructor(
    spec: MetricSpec,
    private readonly read: (series: Series) => void,
  ) {
    this.name = spec.name;
    this.help = spec.help;
    this.type = spec.type;
    this.aggregator = aggregatorOf(spec);
  }

  async get() {
    const series = new Series(this.name);
    this.read(series);
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: series.samples,
      aggregator: this.aggregator,
    };
  }

  reset(): void {}
}

/** Registers the catalog's `spec` on `registry`, its values read by `read` at each scrape. */
export function declareScraped(registry: Registry, spec: MetricSpec, read: (series: Series) => void): void {
  registry.registerMetric(new ScrapedMetric(spec, read) as unknown as Metric);
}
