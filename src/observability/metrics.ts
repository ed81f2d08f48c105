// Every Floodgate metric is declared in this file, so the names are discoverable in one place.
//
// prom-client hashes the label values on every inc()/observe(), even through a labels() child, so
// the request path never touches it: RegionMetrics keeps plain per-region numbers (which the admin
// view needs anyway) and the Prometheus series are rebuilt from them when /metrics is scraped. Gauges
// that mirror live gateway state (breaker, tokens, in-flight...) are likewise read at scrape time
// from the sampler the gateway registers.

import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
import type { RegionView } from '../admin/admin-view.js';
import { breakerStateCode, OUTCOMES, type Outcome } from '../domain.js';
import { type LatencyPercentiles, LatencyWindow } from './latency-window.js';

const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const WOULD_SHED_PREFIX = 'would-shed:';

export type ReloadResultLabel = 'applied' | 'rejected';
type ShedCounts = Map<string, Map<string, number>>;

/** The hot-path recorder for one region: plain counters, histogram buckets and a latency window. */
export class RegionMetrics {
  private readonly outcomeCounts: Record<Outcome, number> = {
    forwarded: 0,
    failover: 0,
    stale: 0,
    shed: 0,
    error: 0,
  };
  private readonly enforcedShed: ShedCounts = new Map();
  private readonly shadowShed: ShedCounts = new Map();
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  private readonly durationBuckets = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  private durationSum = 0;
  private durationCount = 0;
  private readonly window = new LatencyWindow();

  outcome(o: Outcome): void {
    this.outcomeCounts[o]++;
  }

  shed(reason: string, priority: string, wouldShed: boolean): void {
    const counts = wouldShed ? this.shadowShed : this.enforcedShed;
    let byPriority = counts.get(reason);
    if (byPriority === undefined) {
      byPriority = new Map();
      counts.set(reason, byPriority);
    }
    byPriority.set(priority, (byPriority.get(priority) ?? 0) + 1);
  }

  upstreamDuration(seconds: number): void {
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > DURATION_BUCKETS_SECONDS[bucket]!) bucket++;
    this.durationBuckets[bucket]!++;
    this.durationSum += seconds;
    this.durationCount++;
    this.window.record(seconds * 1000);
  }

  outcomes(): Record<Outcome, number> {
    return { ...this.outcomeCounts };
  }

  /** Counts by reason then priority; shadow-mode decisions appear under `would-shed:<reason>`. */
  shedCounts(): Record<string, Record<string, number>> {
    const result: Record<string, Record<string, number>> = {};
    for (const [reason, byPriority] of this.enforcedShed) result[reason] = Object.fromEntries(byPriority);
    for (const [reason, byPriority] of this.shadowShed) {
      result[WOULD_SHED_PREFIX + reason] = Object.fromEntries(byPriority);
    }
    return result;
  }

  latency(): LatencyPercentiles {
    return this.window.percentiles();
  }

  /** For the exporter: the live shed counts of one mode, read without copying. */
  shedMap(wouldShed: boolean): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return wouldShed ? this.shadowShed : this.enforcedShed;
  }

  /** For the exporter: the live duration buckets (not cumulative; the last is +Inf). */
  durationHistogram(): { buckets: Readonly<Float64Array>; sum: number; count: number } {
    return { buckets: this.durationBuckets, sum: this.durationSum, count: this.durationCount };
  }
}

/**
 * A histogram whose buckets live in RegionMetrics. It speaks the registry's metric protocol
 * (name, help, type, get) so it renders exactly like a prom-client Histogram.
 */
class RegionDurationHistogram {
  readonly name = 'floodgate_upstream_duration_seconds';
  readonly help = 'Time from sending a request upstream to receiving its response headers, by region';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly regions: Map<string, RegionMetrics>) {}

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [region, m] of this.regions) {
      const { buckets, sum, count } = m.durationHistogram();
      let cumulative = 0;
      DURATION_BUCKETS_SECONDS.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { region, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { region, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { region }, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels: { region }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly regionMetrics = new Map<string, RegionMetrics>();
  private sampler: () => Record<string, RegionView> = () => ({});
  private scrapeSample: Record<string, RegionView> | null = null;
  private readonly reloads: Counter<'result'>;
  private readonly configVersion: Gauge;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.declareRequestCounters();
    this.registry.registerMetric(new RegionDurationHistogram(this.regionMetrics) as unknown as Metric);
    this.declareRegionGauges();
    this.configVersion = new Gauge({
      name: 'floodgate_config_version',
      help: 'Version of the config in use; bumps on every applied reload',
      registers: [this.registry],
    });
    this.reloads = new Counter({
      name: 'floodgate_config_reload_total',
      help: 'Config reloads by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.reloads.inc({ result: 'applied' }, 0);
    this.reloads.inc({ result: 'rejected' }, 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  region(name: string): RegionMetrics {
    let m = this.regionMetrics.get(name);
    if (m === undefined) {
      m = new RegionMetrics();
      this.regionMetrics.set(name, m);
    }
    return m;
  }

  /** Drops a region removed by a reload, so its series leave /metrics. */
  forgetRegion(name: string): void {
    this.regionMetrics.delete(name);
  }

  sampleRegionsWith(sample: () => Record<string, RegionView>): void {
    this.sampler = sample;
  }

  setConfigVersion(version: number): void {
    this.configVersion.set(version);
  }

  countReload(result: ReloadResultLabel): void {
    this.reloads.inc({ result });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** One sampler call per scrape, shared by every gauge collected during it. */
  private sampleForScrape(): Record<string, RegionView> {
    if (this.scrapeSample === null) {
      this.scrapeSample = this.sampler();
      queueMicrotask(() => {
        this.scrapeSample = null;
      });
    }
    return this.scrapeSample;
  }

  private declareRequestCounters(): void {
    const regions = this.regionMetrics;
    new Counter({
      name: 'floodgate_requests_total',
      help: 'Requests by region and outcome (forwarded, failover, stale, shed, error)',
      labelNames: ['region', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [region, m] of regions) {
          const counts = m.outcomes();
          for (const outcome of OUTCOMES) this.inc({ region, outcome }, counts[outcome]);
        }
      },
    });
    this.declareShedCounter('floodgate_shed_total', 'Requests refused by region, reason and priority', false);
    this.declareShedCounter(
      'floodgate_would_shed_total',
      'Shadow-mode decisions that would have refused a request, by region, reason and priority',
      true,
    );
  }

  private declareShedCounter(name: string, help: string, wouldShed: boolean): void {
    const regions = this.regionMetrics;
    new Counter({
      name,
      help,
      labelNames: ['region', 'reason', 'priority'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [region, m] of regions) {
          for (const [reason, byPriority] of m.shedMap(wouldShed)) {
            for (const [priority, count] of byPriority) this.inc({ region, reason, priority }, count);
          }
        }
      },
    });
  }

  private declareRegionGauges(): void {
    this.regionGauge('floodgate_breaker_state', 'Circuit breaker: 0 closed, 1 half-open, 2 open', (v) =>
      breakerStateCode(v.breaker),
    );
    this.regionGauge('floodgate_region_tokens', 'Tokens in the region bucket', (v) => v.tokens);
    this.regionGauge('floodgate_inflight', 'Requests in flight to the region', (v) => v.inflight);
    this.regionGauge(
      'floodgate_inflight_limit',
      'Current in-flight cap of the region',
      (v) => v.inflightLimit,
    );
    this.regionGauge('floodgate_region_surging', '1 while the region is surging', (v) => (v.surging ? 1 : 0));
    this.regionGauge(
      'floodgate_region_baseline_rps',
      'Learned baseline of offered rps',
      (v) => v.baselineRps,
    );
    this.regionGauge(
      'floodgate_region_current_rps',
      'Offered rps over the last seconds',
      (v) => v.currentRps,
    );
    const sample = () => this.sampleForScrape();
    new Gauge({
      name: 'floodgate_upstream_ejected',
      help: '1 while an upstream is ejected from its region pool',
      labelNames: ['region', 'upstream'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [region, view] of Object.entries(sample())) {
          for (const u of view.upstreams) this.set({ region, upstream: u.url }, u.ejected ? 1 : 0);
        }
      },
    });
  }

  private regionGauge(name: string, help: string, read: (view: RegionView) => number): void {
    const sample = () => this.sampleForScrape();
    new Gauge({
      name,
      help,
      labelNames: ['region'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [region, view] of Object.entries(sample())) this.set({ region }, read(view));
      },
    });
  }
}
