import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { RegionView } from '../../src/admin/admin-view.js';
import { ALL_METRICS } from '../../src/observability/metric-catalog.js';
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
    metrics.region('a').requestDone('forwarded', 0);
    expect(metrics.region('a')).toBe(metrics.region('a'));
    expect(metrics.region('a').outcomes().forwarded).toBe(1);
  });

  it('counts outcomes for the view and for floodgate_requests_total', async () => {
    // Every outcome label exists from the start, and counts match what was recorded.
    const metrics = new GatewayMetrics();
    const a = metrics.region('us-east');
    a.requestDone('forwarded', 0);
    a.requestDone('forwarded', 0);
    a.requestDone('shed', 0);
    expect(a.outcomes()).toEqual({ forwarded: 2, failover: 0, stale: 0, shed: 1, error: 0, local: 0 });
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
    // Enforced and shadow counts stay apart: a shadow decision is 0 in the enforced series.
    expect(sample(text, 'floodgate_shed_total{region="a",reason="surge",priority="low"}')).toBe(0);
  });

  // operations.md: series with fixed label values exist from the start, at 0, so that an alert on
  // rate() sees the first critical shed as an increase rather than a series appearing at N.
  it('exports every shed reason and priority of a region at 0 before any shed', async () => {
    const metrics = new GatewayMetrics();
    metrics.region('a');
    const text = await metrics.text();
    for (const name of ['floodgate_shed_total', 'floodgate_would_shed_total']) {
      expect(sample(text, `${name}{region="a",reason="rate",priority="critical"}`)).toBe(0);
      expect(sample(text, `${name}{region="a",reason="client-rate",priority="low"}`)).toBe(0);
      expect(text.split('\n').filter((l) => l.startsWith(`${name}{region="a"`))).toHaveLength(20);
    }
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
    metrics.region('gone').requestDone('forwarded', 0);
    metrics.region('kept').requestDone('forwarded', 0);
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

describe('the request-path recorders', () => {
  it('counts upstream answers by status class, every class present from the start', async () => {
    // 101 and 103 are 1xx, 599 is 5xx; a status outside 100-599 is no class and is ignored.
    const metrics = new GatewayMetrics();
    const a = metrics.region('a');
    for (const status of [101, 200, 204, 302, 404, 500, 503, 599, 99, 600]) a.upstreamResponse(status);
    expect(a.upstreamResponses()).toEqual({ '1xx': 1, '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 3 });
    const text = await metrics.text();
    expect(sample(text, 'floodgate_upstream_responses_total{region="a",class="5xx"}')).toBe(3);
    expect(sample(text, 'floodgate_upstream_responses_total{region="a",class="1xx"}')).toBe(1);
    expect(metrics.region('b').upstreamResponses()['2xx']).toBe(0);
    expect(sample(await metrics.text(), 'floodgate_upstream_responses_total{region="b",class="2xx"}')).toBe(
      0,
    );
  });

  it('times each answer by outcome and counts the outcome with it', async () => {
    // requestDone feeds both floodgate_requests_total and the client-facing histogram.
    const metrics = new GatewayMetrics();
    const a = metrics.region('a');
    a.requestDone('forwarded', 0.004);
    a.requestDone('forwarded', 0.3);
    a.requestDone('shed', 0.0001);
    expect(a.outcomes()).toMatchObject({ forwarded: 2, shed: 1 });
    const text = await metrics.text();
    const bucket = (outcome: string, le: string) =>
      sample(text, `floodgate_request_duration_seconds_bucket{region="a",outcome="${outcome}",le="${le}"}`);
    expect(bucket('forwarded', '0.005')).toBe(1);
    expect(bucket('forwarded', '0.5')).toBe(2);
    expect(bucket('shed', '0.005')).toBe(1);
    expect(bucket('error', '+Inf')).toBe(0);
    expect(
      sample(text, 'floodgate_request_duration_seconds_sum{region="a",outcome="forwarded"}'),
    ).toBeCloseTo(0.304);
    expect(sample(text, 'floodgate_request_duration_seconds_count{region="a",outcome="stale"}')).toBe(0);
    expect(sample(text, 'floodgate_requests_total{region="a",outcome="forwarded"}')).toBe(2);
  });

  it('counts ejections, stale copies by reason and bad requests by reason', async () => {
    // Every fixed reason is exported at 0 before anything happens, so rate() has a series to read.
    const metrics = new GatewayMetrics();
    const a = metrics.region('a');
    expect(sample(await metrics.text(), 'floodgate_bad_requests_total{reason="request-timeout"}')).toBe(0);
    a.upstreamEjected();
    a.staleServed('rate');
    a.staleServed('rate');
    a.staleServed('upstream-5xx');
    metrics.countBadRequest('request-timeout');
    metrics.countBadRequest('headers-too-large');
    metrics.countBadRequest('request-timeout');
    const text = await metrics.text();
    expect(sample(text, 'floodgate_upstream_ejections_total{region="a"}')).toBe(1);
    expect(sample(text, 'floodgate_stale_served_total{region="a",reason="rate"}')).toBe(2);
    expect(sample(text, 'floodgate_stale_served_total{region="a",reason="upstream-5xx"}')).toBe(1);
    expect(sample(text, 'floodgate_stale_served_total{region="a",reason="surge"}')).toBe(0);
    expect(sample(text, 'floodgate_bad_requests_total{reason="request-timeout"}')).toBe(2);
    expect(sample(text, 'floodgate_bad_requests_total{reason="headers-too-large"}')).toBe(1);
    expect(sample(text, 'floodgate_bad_requests_total{reason="malformed"}')).toBe(0);
  });
});

describe('the gateway-wide series', () => {
  it('stamps the time the config in use was loaded and whether the last reload applied', async () => {
    // The wall clock is injected; a rejected reload keeps the old timestamp and version.
    let now = 1_700_000_000_000;
    const metrics = new GatewayMetrics({ wallClock: () => now });
    metrics.setConfigVersion(1);
    let text = await metrics.text();
    expect(sample(text, 'floodgate_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);
    expect(sample(text, 'floodgate_config_last_reload_successful')).toBe(1);
    now += 60_000;
    metrics.countReload('rejected');
    text = await metrics.text();
    expect(sample(text, 'floodgate_config_last_reload_successful')).toBe(0);
    expect(sample(text, 'floodgate_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);
    metrics.countReload('applied');
    metrics.setConfigVersion(2);
    text = await metrics.text();
    expect(sample(text, 'floodgate_config_last_reload_successful')).toBe(1);
    expect(sample(text, 'floodgate_config_last_reload_success_timestamp_seconds')).toBe(1_700_000_060);
    expect(sample(text, 'floodgate_config_version')).toBe(2);
  });

  it('names the running Floodgate and Node.js versions in floodgate_build_info', async () => {
    // The version comes from package.json, so a release never needs a code change for it.
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const text = await new GatewayMetrics().text();
    expect(sample(text, `floodgate_build_info{version="${pkg.version}",node="${process.version}"}`)).toBe(1);
  });

  it('reads the stale cache size at scrape time, and leaves it out without a cache', async () => {
    // A reload may swap the cache; the sampler is asked on every scrape.
    const metrics = new GatewayMetrics();
    expect(sample(await metrics.text(), 'floodgate_stale_cache_bytes')).toBeUndefined();
    let cache = { bytes: 2048, entries: 3, capturing: 512 };
    metrics.sampleStaleCacheWith(() => cache);
    let text = await metrics.text();
    expect(sample(text, 'floodgate_stale_cache_bytes')).toBe(2048);
    expect(sample(text, 'floodgate_stale_cache_entries')).toBe(3);
    expect(sample(text, 'floodgate_stale_cache_capturing_bytes')).toBe(512);
    cache = { bytes: 0, entries: 0, capturing: 0 };
    text = await metrics.text();
    expect(sample(text, 'floodgate_stale_cache_bytes')).toBe(0);
  });

  it('exports the shared-limit series only once the shared limits ask for them', async () => {
    // A gateway without cluster.redis has no floodgate_shared_limits_up to alert on.
    const metrics = new GatewayMetrics();
    expect(await metrics.text()).not.toContain('floodgate_shared_limits');
    const shared = metrics.sharedLimits();
    expect(metrics.sharedLimits()).toBe(shared);
    shared.setUp(true);
    shared.lease('east', 'granted', 5);
    shared.lease('east', 'granted', 3);
    shared.lease('east', 'error', 0);
    const text = await metrics.text();
    expect(sample(text, 'floodgate_shared_limits_up')).toBe(1);
    expect(sample(text, 'floodgate_shared_limits_leases_total{region="east",result="granted"}')).toBe(2);
    expect(sample(text, 'floodgate_shared_limits_leases_total{region="east",result="empty"}')).toBe(0);
    expect(sample(text, 'floodgate_shared_limits_leases_total{region="east",result="error"}')).toBe(1);
    expect(sample(text, 'floodgate_shared_limits_leased_tokens_total{region="east"}')).toBe(8);
  });
});

describe('the metric catalog', () => {
  it('declares every floodgate_ series exported, with its type and labels, and nothing that is never exported', async () => {
    // One place for the names: a series registered outside the catalog, or with other labels, fails here.
    const metrics = new GatewayMetrics();
    metrics.sampleRegionsWith(() => ({
      east: regionView({ upstreams: [{ url: 'http://127.0.0.1:9001', inflight: 0, ejected: false }] }),
    }));
    metrics.sampleStaleCacheWith(() => ({ bytes: 0, entries: 0, capturing: 0 }));
    metrics.sampleUpgradedSocketsWith(() => 0);
    metrics.region('east').shed('rate', 'low', false);
    metrics.region('east').shed('rate', 'low', true);
    metrics.sharedLimits().lease('east', 'granted', 1);
    metrics.countWorkersWith(() => 2);
    const exported = parseExposition(await metrics.text());
    const declared = new Map(ALL_METRICS.map((m) => [m.name, m]));
    expect([...exported.keys()].sort()).toEqual([...declared.keys()].sort());
    for (const [name, { type, labelSets }] of exported) {
      const spec = declared.get(name)!;
      expect(type, name).toBe(spec.type);
      expect(labelSets.length, name).toBeGreaterThan(0);
      for (const labels of labelSets) {
        expect(
          labels.filter((l) => l !== 'le'),
          name,
        ).toEqual([...spec.labels].sort());
      }
    }
  });
});

/** floodgate_ metric families in Prometheus text: their type and each sample's label names (sorted). */
function parseExposition(text: string): Map<string, { type: string; labelSets: string[][] }> {
  const families = new Map<string, { type: string; labelSets: string[][] }>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (floodgate_\w+) (\w+)$/.exec(line);
    if (typed) families.set(typed[1]!, { type: typed[2]!, labelSets: [] });
    const sampled = /^(floodgate_\w+?)(_bucket|_sum|_count)?(?:\{(.*)\})? /.exec(line);
    if (sampled === null) continue;
    const family = families.get(sampled[1]!) ?? families.get(sampled[1]! + (sampled[2] ?? ''));
    const labels = [...(sampled[3] ?? '').matchAll(/(\w+)="/g)].map((m) => m[1]!);
    family?.labelSets.push(labels.sort());
  }
  return families;
}
