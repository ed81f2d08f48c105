import { describe, expect, it } from 'vitest';
import type { RegionView } from '../../src/admin/admin-view.js';
import { aggregateMetrics } from '../../src/cluster/cluster-metrics.js';
import { sumRegionViews } from '../../src/cluster/region-view-sum.js';
import type { MetricJson } from '../../src/cluster/worker-messages.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { regionView } from '../support/region-view.js';

function view(overrides: Partial<RegionView>): RegionView {
  return regionView({
    inflight: 1,
    inflightLimit: 128,
    tokens: 10,
    admittedRps: 20,
    shedRps: 5,
    baselineRps: 12,
    currentRps: 25,
    p50Ms: 3,
    p99Ms: 40,
    outcomes: { forwarded: 10, failover: 1, stale: 0, shed: 2, error: 0, local: 0 },
    shed: { rate: { low: 2 } },
    upstreams: [{ url: 'http://127.0.0.1:9001', inflight: 1, ejected: false }],
    ...overrides,
  });
}

describe('sumRegionViews', () => {
  it('adds up counts, rates, tokens and in-flight figures across workers', () => {
    // Two workers' views of one region become one view with the sums.
    const sum = sumRegionViews([{ east: view({}) }, { east: view({ tokens: 5, inflight: 3 }) }]).east!;
    expect(sum.tokens).toBe(15);
    expect(sum.inflight).toBe(4);
    expect(sum.inflightLimit).toBe(256);
    expect(sum.admittedRps).toBe(40);
    expect(sum.shedRps).toBe(10);
    expect(sum.currentRps).toBe(50);
    expect(sum.outcomes).toEqual({ forwarded: 20, failover: 2, stale: 0, shed: 4, error: 0, local: 0 });
    expect(sum.upstreams).toEqual([{ url: 'http://127.0.0.1:9001', inflight: 2, ejected: false }]);
  });

  it('keeps the configured limits and shows the most severe state', () => {
    // rps and burst are the group's own; one open breaker or surge shows for the group; p99 is the worst.
    const sum = sumRegionViews([
      { east: view({ breaker: 'half-open', p99Ms: 40 }) },
      { east: view({ breaker: 'open', surging: true, p99Ms: 90 }) },
      { east: view({ breaker: 'closed' }) },
    ]).east!;
    expect(sum.rps).toBe(50);
    expect(sum.burst).toBe(100);
    expect(sum.breaker).toBe('open');
    expect(sum.surging).toBe(true);
    expect(sum.p99Ms).toBe(90);
  });

  it('merges shed counts by reason and priority, and upstreams by URL', () => {
    // Shed counts add per (reason, priority); an upstream ejected by any worker shows as ejected.
    const sum = sumRegionViews([
      { east: view({ shed: { rate: { low: 2 }, surge: { normal: 1 } } }) },
      {
        east: view({
          shed: { rate: { low: 3, normal: 1 } },
          upstreams: [
            { url: 'http://127.0.0.1:9001', inflight: 2, ejected: true },
            { url: 'http://127.0.0.1:9002', inflight: 1, ejected: false },
          ],
        }),
      },
    ]).east!;
    expect(sum.shed).toEqual({ rate: { low: 5, normal: 1 }, surge: { normal: 1 } });
    expect(sum.upstreams).toEqual([
      { url: 'http://127.0.0.1:9001', inflight: 3, ejected: true },
      { url: 'http://127.0.0.1:9002', inflight: 1, ejected: false },
    ]);
  });

  it('leaves the workers own views untouched', () => {
    // Summing copies: a worker's view read again later still shows its own numbers.
    const first = view({});
    sumRegionViews([{ east: first }, { east: view({}) }]);
    expect(first.outcomes.forwarded).toBe(10);
    expect(first.shed).toEqual({ rate: { low: 2 } });
    expect(first.upstreams[0]!.inflight).toBe(1);
  });
});

/** A worker's metrics as it sends them to the primary: its own GatewayMetrics, as JSON. */
async function workerMetrics(
  requests: number,
  breaker: 'closed' | 'open',
  sharedUp: boolean,
): Promise<MetricJson[]> {
  const metrics = new GatewayMetrics();
  metrics.setConfigVersion(9);
  metrics.sampleRegionsWith(() => ({ east: regionView({ breaker }) }));
  for (let i = 0; i < requests; i++) metrics.region('east').requestDone('forwarded', 0);
  metrics.sharedLimits().setUp(sharedUp);
  return (await metrics.registry.getMetricsAsJSON()) as unknown as MetricJson[];
}

describe('aggregateMetrics', () => {
  it('sums counters, keeps the worst state gauge and takes the config series from the primary', async () => {
    // 3 + 4 requests make 7; two open breakers stay 2 (not 4); one worker off Redis makes the
    // group's shared_limits_up 0; the workers' version 9 yields to the primary's 2.
    const primary = new GatewayMetrics();
    primary.setConfigVersion(2);
    const text = await aggregateMetrics(
      [await workerMetrics(3, 'open', true), await workerMetrics(4, 'open', false)],
      (await primary.registry.getMetricsAsJSON()) as unknown as MetricJson[],
    ).metrics();
    expect(text).toContain('floodgate_requests_total{region="east",outcome="forwarded"} 7');
    expect(text).toContain('floodgate_breaker_state{region="east"} 2');
    expect(text).toMatch(/^floodgate_shared_limits_up 0$/m);
    expect(text).toMatch(/^floodgate_config_version 2$/m);
    expect(text).toMatch(/^floodgate_build_info\{.*\} 1$/m);
  });
});
