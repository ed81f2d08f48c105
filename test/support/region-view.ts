import type { RegionView } from '../../src/admin/admin-view.js';

/** A quiet region's view (closed breaker, full bucket, nothing counted yet), with `overrides` on top. */
export function regionView(overrides: Partial<RegionView> = {}): RegionView {
  return {
    breaker: 'closed',
    inflight: 0,
    inflightLimit: 64,
    tokens: 100,
    burst: 100,
    rps: 50,
    admittedRps: 0,
    shedRps: 0,
    baselineRps: 0,
    currentRps: 0,
    surging: false,
    p50Ms: 0,
    p99Ms: 0,
    outcomes: { forwarded: 0, failover: 0, stale: 0, shed: 0, error: 0, local: 0 },
    upstreamResponses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    shed: {},
    upstreams: [],
    ...overrides,
  };
}
