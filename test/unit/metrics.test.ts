import { describe, expect, it } from 'vitest';
import type { RegionView } from '../../src/admin/admin-view.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { regionView } from '../support/region-view.js';

/** The value of one sample line, e.g. sample(text, 'floodgate_inflight{region="a"}'). */
function sample(text: string, series: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

describe('GatewayMetrics', () => {
  it('returns the same recorder for a region every time', () => {
    // Callers cache nothing themselves; region() must not reset counts on a second call.
    const metrics = new GatewayMetrics();
    metrics.region('a').outcome('forwarded');
    expect(metrics.region('a')).toBe(metrics.region('a'));
    expect(metrics.region('a').outcomes().forwarded).toBe(1);
  });

  it('counts outcomes for the view and for floodgate_requests_total', async () => {
    // Every outcome label exists from the start, and counts match what was recorded.
    const metrics = new GatewayMetrics();
    const a = metrics.region('us-east');
    a.outcome('forwarded');
    a.outcome('forwarded');
    a.outcome('shed');
    expect(a.outcomes()).toEqual({ forwarded: 2, failover: 0, stale: 0, shed: 1, error: 0 });
    const text = await metrics.text();
    expect(sample(text, 'floodgate_requests_total{region="us-east",outcome="forwarded"}')).toBe(2);
    expect(sample(text, 'floodgate_requests_total{region="us-east",outcome="shed"}')).toBe(1);
    expect(sample(text, 'floodgate_requests_total{region="us-east",outcome="error"}')).toBe(0);
  });

  it('keeps enforced and shadow-mode shedding apart', async () => {
    // would-shed decisions go to their own metric and to `would-shed:<reason>` in the view.
    const metrics = new GatewayMetrics();
    const a = metrics.region('a');
    a.shed('rate', 'low', false);
    a.shed('rate', 'low', false);
    a.shed('rate', 'normal', false);
    a.shed('surge', 'low', true);
    expect(a.shedCounts()).toEqual({ rate: { low: 2, normal: 1 }, 'would-shed:surge': { low: 1 } });
    const text = await metrics.text();
    expect(sample(text, 'floodgate_shed_total{region="a",reason="rate",priority="low"}')).toBe(2);
    expect(sample(text, 'floodgate_shed_total{region="a",reason="rate",priority="normal"}')).toBe(1);
    expect(sample(text, 'floodgate_would_shed_total{region="a",reason="surge",priority="low"}')).toBe(1);
    expect(sample(text, 'floodgate_shed_total{region="a",reason="surge",priority="low"}')).toBeUndefined();
  });

  it('exports upstream durations as a cumulative histogram and feeds the latency window', async () => {
    // 3 ms lands in le=0.005 and above; 200 ms only from le=0.25; the window sees milliseconds.
    const metrics = new GatewayMetrics();
    const a = metrics.region('a');
    a.upstreamDuration(0.003);
    a.upstreamDuration(0.2);
    const text = await metrics.text();
    const bucket = (le: string) =>
      sample(text, `floodgate_upstream_duration_seconds_bucket{region="a",le="${le}"}`);
    expect(bucket('0.005')).toBe(1);
    expect(bucket('0.1')).toBe(1);
    expect(bucket('0.25')).toBe(2);
    expect(bucket('+Inf')).toBe(2);
    expect(sample(text, 'floodgate_upstream_duration_seconds_count{region="a"}')).toBe(2);
    expect(sample(text, 'floodgate_upstream_duration_seconds_sum{region="a"}')).toBeCloseTo(0.203);
    expect(text).toContain('# TYPE floodgate_upstream_duration_seconds histogram');
    expect(a.latency()).toEqual({ p50Ms: 3, p99Ms: 200 });
  });

  it('reads live gauges from the sampler once per scrape', async () => {
    // Breaker open is 2, half-open 1; every gauge in one scrape comes from a single sample.
    const metrics = new GatewayMetrics();
    let calls = 0;
    metrics.sampleRegionsWith(() => {
      calls++;
      return {
        east: regionView({
          breaker: 'open',
          tokens: 12.5,
          inflight: 7,
          inflightLimit: 32,
          surging: true,
          baselineRps: 10,
          currentRps: 40,
          upstreams: [
            { url: 'http://127.0.0.1:9001', inflight: 3, ejected: true },
            { url: 'http://127.0.0.1:9002', inflight: 4, ejected: false },
          ],
        }),
        west: regionView({ breaker: 'half-open' }),
      };
    });
    const text = await metrics.text();
    expect(calls).toBe(1);
    expect(sample(text, 'floodgate_breaker_state{region="east"}')).toBe(2);
    expect(sample(text, 'floodgate_breaker_state{region="west"}')).toBe(1);
    expect(sample(text, 'floodgate_region_tokens{region="east"}')).toBe(12.5);
    expect(sample(text, 'floodgate_inflight{region="east"}')).toBe(7);
    expect(sample(text, 'floodgate_inflight_limit{region="east"}')).toBe(32);
    expect(sample(text, 'floodgate_region_surging{region="east"}')).toBe(1);
    expect(sample(text, 'floodgate_region_baseline_rps{region="east"}')).toBe(10);
    expect(sample(text, 'floodgate_region_current_rps{region="east"}')).toBe(40);
    expect(sample(text, 'floodgate_upstream_ejected{region="east",upstream="http://127.0.0.1:9001"}')).toBe(
      1,
    );
    expect(sample(text, 'floodgate_upstream_ejected{region="east",upstream="http://127.0.0.1:9002"}')).toBe(
      0,
    );
    await metrics.text();
    expect(calls).toBe(2);
  });

  it('drops the series of a forgotten region, counters and gauges alike', async () => {
    // After a reload removes a region, neither its counters nor its sampled gauges linger.
    const metrics = new GatewayMetrics();
    let regions: Record<string, RegionView> = { gone: regionView(), kept: regionView() };
    metrics.sampleRegionsWith(() => regions);
    metrics.region('gone').outcome('forwarded');
    metrics.region('kept').outcome('forwarded');
    expect(await metrics.text()).toContain('region="gone"');
    metrics.forgetRegion('gone');
    regions = { kept: regionView() };
    const text = await metrics.text();
    expect(text).not.toContain('region="gone"');
    expect(sample(text, 'floodgate_requests_total{region="kept",outcome="forwarded"}')).toBe(1);
  });

  it('reports the config version, reloads by result and the process metrics', async () => {
    // Both reload results start at zero so alerts on rejected reloads have a series to watch.
    const metrics = new GatewayMetrics();
    metrics.setConfigVersion(3);
    metrics.countReload('applied');
    metrics.countReload('rejected');
    metrics.countReload('rejected');
    const text = await metrics.text();
    expect(sample(text, 'floodgate_config_version')).toBe(3);
    expect(sample(text, 'floodgate_config_reload_total{result="applied"}')).toBe(1);
    expect(sample(text, 'floodgate_config_reload_total{result="rejected"}')).toBe(2);
    expect(text).toContain('process_resident_memory_bytes');
    expect(metrics.contentType).toContain('text/plain');
  });
});
