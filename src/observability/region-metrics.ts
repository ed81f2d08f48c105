// The request path's recorder for one region. prom-client hashes the label values on every
// inc()/observe(), even through a labels() child, so the request path never touches it: these are
// plain numbers (which the admin view needs anyway), and metrics.ts renders the Prometheus series
// from them when /metrics is scraped. Names and labels are in metric-catalog.ts.

import { OUTCOMES, type Outcome, type ShedReason } from '../domain.js';
import { type LatencyPercentiles, LatencyWindow } from './latency-window.js';
import {
  DURATION_BUCKETS_SECONDS,
  STATUS_CLASSES,
  type StaleReason,
  type StatusClass,
} from './metric-catalog.js';

const WOULD_SHED_PREFIX = 'would-shed:';

type ShedCounts = Map<ShedReason, Map<string, number>>;

/** A histogram's state as plain numbers: per-bucket (not cumulative) counts, the last slot +Inf. */
export class DurationBuckets {
  readonly buckets = new Float64Array(DURATION_BUCKETS_SECONDS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > DURATION_BUCKETS_SECONDS[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.sum += seconds;
    this.count++;
  }
}

export class RegionMetrics {
  private readonly outcomeCounts: Record<Outcome, number> = {
    forwarded: 0,
    failover: 0,
    stale: 0,
    shed: 0,
    error: 0,
    local: 0,
  };
  private readonly enforcedShed: ShedCounts = new Map();
  private readonly shadowShed: ShedCounts = new Map();
  /** Indexed by the status's first digit minus one: 1xx at 0 ... 5xx at 4. */
  private readonly statusClasses = new Float64Array(STATUS_CLASSES.length);
  private readonly staleCounts = new Map<StaleReason, number>();
  private ejections = 0;
  private readonly upstream = new DurationBuckets();
  // A plain object, not a Map: requestDone runs once per request and a property read is cheaper.
  private readonly answered = Object.fromEntries(OUTCOMES.map((o) => [o, new DurationBuckets()])) as Record<
    Outcome,
    DurationBuckets
  >;
  private readonly window = new LatencyWindow();

  /** A request's answer has ended: counts its outcome and observes how long the client waited. */
  requestDone(o: Outcome, seconds: number): void {
    this.outcomeCounts[o]++;
    this.answered[o].observe(seconds);
  }

  shed(reason: ShedReason, priority: string, wouldShed: boolean): void {
    const counts = wouldShed ? this.shadowShed : this.enforcedShed;
    let byPriority = counts.get(reason);
    if (byPriority === undefined) {
      byPriority = new Map();
      counts.set(reason, byPriority);
    }
    byPriority.set(priority, (byPriority.get(priority) ?? 0) + 1);
  }

  upstreamDuration(seconds: number): void {
    this.upstream.observe(seconds);
    this.window.record(seconds * 1000);
  }

  /** An upstream answered with this status (its final response, or a 101 for an upgrade). */
  upstreamResponse(status: number): void {
    const slot = ((status / 100) | 0) - 1;
    if (slot >= 0 && slot < STATUS_CLASSES.length) this.statusClasses[slot]!++;
  }

  /** Outlier ejection took one of the region's upstream hosts out of rotation. */
  upstreamEjected(): void {
    this.ejections++;
  }

  /** A kept copy answered instead of the upstream or a refusal. */
  staleServed(reason: StaleReason): void {
    this.staleCounts.set(reason, (this.staleCounts.get(reason) ?? 0) + 1);
  }

  outcomes(): Record<Outcome, number> {
    return { ...this.outcomeCounts };
  }

  upstreamResponses(): Record<StatusClass, number> {
    const counts = {} as Record<StatusClass, number>;
    STATUS_CLASSES.forEach((c, i) => {
      counts[c] = this.statusClasses[i]!;
    });
    return counts;
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

  // For the exporter: the live numbers, read without copying.

  shedMap(wouldShed: boolean): ReadonlyMap<ShedReason, ReadonlyMap<string, number>> {
    return wouldShed ? this.shadowShed : this.enforcedShed;
  }

  staleMap(): ReadonlyMap<StaleReason, number> {
    return this.staleCounts;
  }

  ejectionCount(): number {
    return this.ejections;
  }

  upstreamHistogram(): Readonly<DurationBuckets> {
    return this.upstream;
  }

  requestHistograms(): Readonly<Record<Outcome, Readonly<DurationBuckets>>> {
    return this.answered;
  }
}
