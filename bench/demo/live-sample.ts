import type { AdminView } from '../../src/admin/admin-view.js';
import { streamName } from '../scenarios/video-site.js';
import type { Simulator } from '../simulator.js';
import { KINDS, type Kind } from '../traffic-mix.js';
import type { DemoLoad } from './demo-load.js';

export const SHED_REASONS = ['rate', 'concurrency', 'surge', 'circuit-open'] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

/**
 * One region right now. Offered and served come from the clients' last completed second; shed,
 * stale, p99, breaker and surge from the gateway's own view; zeros from the backend, which is the
 * only one that knows it answered a count it did not have.
 */
export interface RegionSample {
  region: string;
  offeredRps: number;
  /** Good answers (fresh or stale) over requests sent, per kind; undefined before the first second. */
  served: Record<Kind, number | undefined>;
  /** Since the start, by reason. Some of these were then answered stale or by a failover region. */
  shed: Record<ShedReason, number>;
  stale: number;
  zeros: number;
  /** The gateway's upstream latency over its recent window. */
  p99Ms: number;
  breaker: string;
  surging: boolean;
}

export function sampleRegions(
  regions: readonly string[],
  load: DemoLoad,
  gateway: AdminView,
  simulators: ReadonlyMap<string, Simulator>,
): RegionSample[] {
  const views = gateway.regions();
  return regions.map((region) => {
    const view = views[region];
    let offeredRps = 0;
    const served = {} as Record<Kind, number | undefined>;
    for (const kind of KINDS) {
      const second = load.lastSecond(streamName(region, kind));
      offeredRps += second?.sent ?? 0;
      served[kind] = second && second.sent > 0 ? Math.min(1, second.good / second.sent) : undefined;
    }
    return {
      region,
      offeredRps,
      served,
      shed: shedByReason(view?.shed ?? {}),
      stale: view?.outcomes.stale ?? 0,
      zeros: simulators.get(region)?.stats().zerosServed ?? 0,
      p99Ms: view?.p99Ms ?? 0,
      breaker: view?.breaker ?? '-',
      surging: view?.surging ?? false,
    };
  });
}

function shedByReason(shed: Record<string, Record<string, number>>): Record<ShedReason, number> {
  const totals = {} as Record<ShedReason, number>;
  for (const reason of SHED_REASONS) {
    totals[reason] = Object.values(shed[reason] ?? {}).reduce((sum, count) => sum + count, 0);
  }
  return totals;
}
