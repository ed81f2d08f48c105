import type { RegionView, UpstreamView } from '../admin/admin-view.js';
import { breakerStateCode } from '../domain.js';

/**
 * One view of each region for the whole worker group, from each worker's own view. Counts, rates,
 * tokens and in-flight figures add up. The configured limits (rps, burst) are the group's, so they
 * are taken as they are. A breaker shows its most severe state in any worker, `surging` is true when
 * any worker sees a surge, and latency percentiles, which cannot be merged exactly, show the worst.
 */
export function sumRegionViews(perWorker: readonly Record<string, RegionView>[]): Record<string, RegionView> {
  const sums: Record<string, RegionView> = {};
  for (const regions of perWorker) {
    for (const [name, view] of Object.entries(regions)) {
      const sum = sums[name];
      sums[name] = sum === undefined ? copyView(view) : addView(sum, view);
    }
  }
  return sums;
}

function copyView(view: RegionView): RegionView {
  return {
    ...view,
    outcomes: { ...view.outcomes },
    upstreamResponses: { ...view.upstreamResponses },
    shed: addShed({}, view.shed),
    upstreams: view.upstreams.map((u) => ({ ...u })),
  };
}

function addView(sum: RegionView, view: RegionView): RegionView {
  return {
    breaker: breakerStateCode(view.breaker) > breakerStateCode(sum.breaker) ? view.breaker : sum.breaker,
    inflight: sum.inflight + view.inflight,
    inflightLimit: sum.inflightLimit + view.inflightLimit,
    tokens: sum.tokens + view.tokens,
    burst: sum.burst,
    rps: sum.rps,
    admittedRps: sum.admittedRps + view.admittedRps,
    shedRps: sum.shedRps + view.shedRps,
    baselineRps: sum.baselineRps + view.baselineRps,
    currentRps: sum.currentRps + view.currentRps,
    surging: sum.surging || view.surging,
    p50Ms: Math.max(sum.p50Ms, view.p50Ms),
    p99Ms: Math.max(sum.p99Ms, view.p99Ms),
    outcomes: {
      forwarded: sum.outcomes.forwarded + view.outcomes.forwarded,
      failover: sum.outcomes.failover + view.outcomes.failover,
      stale: sum.outcomes.stale + view.outcomes.stale,
      shed: sum.outcomes.shed + view.outcomes.shed,
      local: sum.outcomes.local + view.outcomes.local,
      error: sum.outcomes.error + view.outcomes.error,
    },
    upstreamResponses: addCounts(sum.upstreamResponses, view.upstreamResponses),
    shed: addShed(sum.shed, view.shed),
    upstreams: addUpstreams(sum.upstreams, view.upstreams),
  };
}

function addCounts<K extends string>(sum: Record<K, number>, more: Record<K, number>): Record<K, number> {
  const total = { ...sum };
  for (const key of Object.keys(more) as K[]) total[key] = (total[key] ?? 0) + more[key];
  return total;
}

function addShed(
  sum: Record<string, Record<string, number>>,
  more: Record<string, Record<string, number>>,
): Record<string, Record<string, number>> {
  for (const [reason, byPriority] of Object.entries(more)) {
    const target = sum[reason] ?? {};
    for (const [priority, count] of Object.entries(byPriority))
      target[priority] = (target[priority] ?? 0) + count;
    sum[reason] = target;
  }
  return sum;
}

function addUpstreams(sum: UpstreamView[], more: readonly UpstreamView[]): UpstreamView[] {
  for (const upstream of more) {
    const known = sum.find((u) => u.url === upstream.url);
    if (known === undefined) sum.push({ ...upstream });
    else {
      known.inflight += upstream.inflight;
      known.ejected = known.ejected || upstream.ejected;
    }
  }
  return sum;
}
