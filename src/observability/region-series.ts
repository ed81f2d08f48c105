// The per-region series: counters and histograms from each region's RegionMetrics, and gauges
// read from the gateway's live region state (breaker, tokens, in-flight...) when scraped.

import type { Registry } from 'prom-client';
import type { RegionView } from '../admin/admin-view.js';
import { PRIORITIES } from '../admission/priority.js';
import { breakerStateCode, OUTCOMES, SHED_REASONS } from '../domain.js';
import { METRICS, type MetricSpec, STALE_REASONS, STATUS_CLASSES } from './metric-catalog.js';
import type { RegionMetrics } from './region-metrics.js';
import { declareScraped } from './scraped-metric.js';

/** Registers every per-region series; `regions` and `sample` are read at each scrape. */
export function declareRegionSeries(
  registry: Registry,
  regions: ReadonlyMap<string, RegionMetrics>,
  sample: () => Record<string, RegionView>,
): void {
  declareRecorded(registry, regions);
  const gauge = (spec: MetricSpec, read: (view: RegionView) => number) =>
    declareScraped(registry, spec, (series) => {
      for (const [region, view] of Object.entries(sample())) series.value({ region }, read(view));
    });
  gauge(METRICS.breakerState, (v) => breakerStateCode(v.breaker));
  gauge(METRICS.regionTokens, (v) => v.tokens);
  gauge(METRICS.regionCapacityRps, (v) => v.rps);
  gauge(METRICS.regionBurst, (v) => v.burst);
  gauge(METRICS.inflight, (v) => v.inflight);
  gauge(METRICS.inflightLimit, (v) => v.inflightLimit);
  gauge(METRICS.surging, (v) => (v.surging ? 1 : 0));
  gauge(METRICS.baselineRps, (v) => v.baselineRps);
  gauge(METRICS.currentRps, (v) => v.currentRps);
  declareScraped(registry, METRICS.upstreamEjected, (series) => {
    for (const [region, view] of Object.entries(sample())) {
      for (const u of view.upstreams) series.value({ region, upstream: u.url }, u.ejected ? 1 : 0);
    }
  });
}

/** The series counted on the request path. Every fixed label value is present from the start, at 0. */
function declareRecorded(registry: Registry, regions: ReadonlyMap<string, RegionMetrics>): void {
  declareScraped(registry, METRICS.requests, (series) => {
    for (const [region, m] of regions) {
      const counts = m.outcomes();
      for (const outcome of OUTCOMES) series.value({ region, outcome }, counts[outcome]);
    }
  });
  for (const [spec, wouldShed] of [
    [METRICS.shed, false],
    [METRICS.wouldShed, true],
  ] as const) {
    declareScraped(registry, spec, (series) => {
      for (const [region, m] of regions) {
        // Every reason and priority from the start, at 0, so a first critical shed is an increase.
        const counts = m.shedMap(wouldShed);
        for (const reason of SHED_REASONS) {
          const byPriority = counts.get(reason);
          for (const priority of PRIORITIES)
            series.value({ region, reason, priority }, byPriority?.get(priority) ?? 0);
        }
      }
    });
  }
  declareScraped(registry, METRICS.upstreamResponses, (series) => {
    for (const [region, m] of regions) {
      const counts = m.upstreamResponses();
      for (const c of STATUS_CLASSES) series.value({ region, class: c }, counts[c]);
    }
  });
  declareScraped(registry, METRICS.upstreamEjections, (series) => {
    for (const [region, m] of regions) series.value({ region }, m.ejectionCount());
  });
  declareScraped(registry, METRICS.staleServed, (series) => {
    for (const [region, m] of regions) {
      const counts = m.staleMap();
      for (const reason of STALE_REASONS) series.value({ region, reason }, counts.get(reason) ?? 0);
    }
  });
  declareScraped(registry, METRICS.upstreamDuration, (series) => {
    for (const [region, m] of regions) series.histogram({ region }, m.upstreamHistogram());
  });
  declareScraped(registry, METRICS.requestDuration, (series) => {
    for (const [region, m] of regions) {
      const histograms = m.requestHistograms();
      for (const outcome of OUTCOMES) series.histogram({ region, outcome }, histograms[outcome]);
    }
  });
}
