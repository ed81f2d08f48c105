// The gateway's Prometheus registry. Every Floodgate metric is declared in metric-catalog.ts and
// registered here or by region-series.ts; nothing else in the code base creates a metric.
//
// The request path records into plain numbers (RegionMetrics, and the counters below) and the
// series are built from them when /metrics is scraped. Gauges that mirror live gateway state
// (breaker, tokens, in-flight, stale cache size...) are read at scrape time from the samplers the
// gateway registers.

import { createRequire } from 'node:module';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { RegionView } from '../admin/admin-view.js';
import {
  BAD_REQUEST_REASONS,
  type BadRequestReason,
  LEASE_RESULTS,
  type LeaseResult,
  METRICS,
} from './metric-catalog.js';
import { RegionMetrics } from './region-metrics.js';
import { declareRegionSeries } from './region-series.js';
import { declareScraped } from './scraped-metric.js';

export type { BadRequestReason, LeaseResult, StaleReason } from './metric-catalog.js';
export { BAD_REQUEST_REASONS } from './metric-catalog.js';
export { RegionMetrics } from './region-metrics.js';

export type ReloadResultLabel = 'applied' | 'rejected';

/** What the shared limits report (src/cluster/shared-limits.ts); tests pass a recorder. */
export interface SharedLimitsMetrics {
  setUp(up: boolean): void;
  lease(region: string, result: LeaseResult, tokens: number): void;
}

/** How much the stale cache holds. */
export interface StaleCacheSize {
  bytes: number;
  entries: number;
  /** Held by captures under way, on top of `bytes`. */
  capturing: number;
}

export interface GatewayMetricsOptions {
  /** Unix milliseconds, for the reload timestamp; Date.now unless a test fixes it. */
  wallClock?: () => number;
}

const PROM_CLIENT_TOTAL_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly regionMetrics = new Map<string, RegionMetrics>();
  private sampler: () => Record<string, RegionView> = () => ({});
  private scrapeSample: Record<string, RegionView> | null = null;
  private staleCache: () => StaleCacheSize | undefined = () => undefined;
  private upgradedSockets: () => number | undefined = () => undefined;
  private readonly badRequestCounts = new Map<BadRequestReason, number>(
    BAD_REQUEST_REASONS.map((r) => [r, 0]),
  );
  private readonly reloads: Record<ReloadResultLabel, number> = { applied: 0, rejected: 0 };
  private configVersion = 0;
  private lastReloadSuccessful = true;
  private loadedAtSeconds = 0;
  private readonly wallClock: () => number;
  private sharedLimitsSeries: SharedLimitsMetrics | undefined;

  constructor(options: GatewayMetricsOptions = {}) {
    this.wallClock = options.wallClock ?? Date.now;
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool check metrics refuses; nodejs_active_* holds the same by type.
    for (const name of PROM_CLIENT_TOTAL_GAUGES) this.registry.removeSingleMetric(name);
    declareRegionSeries(this.registry, this.regionMetrics, () => this.sampleForScrape());
    this.declareGatewaySeries();
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

  /** The stale cache whose size is exported; read at scrape time, so a reload may swap it. */
  sampleStaleCacheWith(read: () => StaleCacheSize | undefined): void {
    this.staleCache = read;
  }

  /** The count of connections taken over by upgrades, read at scrape time. */
  sampleUpgradedSocketsWith(read: () => number | undefined): void {
    this.upgradedSockets = read;
  }

  /** A request refused as malformed or over a `listen` limit, before or after a region was chosen. */
  countBadRequest(reason: BadRequestReason): void {
    this.badRequestCounts.set(reason, (this.badRequestCounts.get(reason) ?? 0) + 1);
  }

  /** The config now in use: at start and after each applied reload. */
  setConfigVersion(version: number): void {
    this.configVersion = version;
    this.loadedAtSeconds = this.wallClock() / 1000;
  }

  countReload(result: ReloadResultLabel): void {
    this.reloads[result]++;
    this.lastReloadSuccessful = result === 'applied';
  }

  /**
   * The shared-limit series, registered on first use so a gateway without `cluster.redis` does not
   * export them. Leases happen tens of times a second, not per request.
   */
  sharedLimits(): SharedLimitsMetrics {
    if (this.sharedLimitsSeries !== undefined) return this.sharedLimitsSeries;
    let up = 0;
    const leases = new Map<string, Record<LeaseResult, number>>();
    const tokens = new Map<string, number>();
    declareScraped(this.registry, METRICS.sharedLimitsUp, (series) => series.value({}, up));
    declareScraped(this.registry, METRICS.sharedLimitsLeases, (series) => {
      for (const [region, counts] of leases) {
        for (const result of LEASE_RESULTS) series.value({ region, result }, counts[result]);
      }
    });
    declareScraped(this.registry, METRICS.sharedLimitsLeasedTokens, (series) => {
      for (const [region, count] of tokens) series.value({ region }, count);
    });
    this.sharedLimitsSeries = {
      setUp: (value) => {
        up = value ? 1 : 0;
      },
      lease(region, result, granted) {
        let counts = leases.get(region);
        if (counts === undefined) {
          counts = { granted: 0, empty: 0, error: 0 };
          leases.set(region, counts);
        }
        counts[result]++;
        if (granted > 0) tokens.set(region, (tokens.get(region) ?? 0) + granted);
      },
    };
    return this.sharedLimitsSeries;
  }

  /** The worker-group primary's count of live workers. */
  countWorkersWith(alive: () => number): void {
    declareScraped(this.registry, METRICS.workers, (series) => series.value({}, alive()));
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

  private declareGatewaySeries(): void {
    const registry = this.registry;
    declareScraped(registry, METRICS.badRequests, (series) => {
      for (const [reason, count] of this.badRequestCounts) series.value({ reason }, count);
    });
    declareScraped(registry, METRICS.staleBytes, (series) => {
      const cache = this.staleCache();
      if (cache !== undefined) series.value({}, cache.bytes);
    });
    declareScraped(registry, METRICS.staleEntries, (series) => {
      const cache = this.staleCache();
      if (cache !== undefined) series.value({}, cache.entries);
    });
    declareScraped(registry, METRICS.staleCapturing, (series) => {
      const cache = this.staleCache();
      if (cache !== undefined) series.value({}, cache.capturing);
    });
    declareScraped(registry, METRICS.upgradedSockets, (series) => {
      const open = this.upgradedSockets();
      if (open !== undefined) series.value({}, open);
    });
    const build = { version: packageVersion(), node: process.version };
    declareScraped(registry, METRICS.buildInfo, (series) => series.value(build, 1));
    declareScraped(registry, METRICS.configVersion, (series) => series.value({}, this.configVersion));
    declareScraped(registry, METRICS.configReloads, (series) => {
      series.value({ result: 'applied' }, this.reloads.applied);
      series.value({ result: 'rejected' }, this.reloads.rejected);
    });
    declareScraped(registry, METRICS.configLastReloadSuccessful, (series) =>
      series.value({}, this.lastReloadSuccessful ? 1 : 0),
    );
    declareScraped(registry, METRICS.configLastReloadSuccessTimestamp, (series) =>
      series.value({}, this.loadedAtSeconds),
    );
  }
}

/** Floodgate's version from package.json, found from the sources (tests) or from the build (dist/src). */
function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const candidate of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === 'floodgate' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return 'unknown';
}
