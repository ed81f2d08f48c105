import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../src/admin/admin-server.js';
import type { AdminView, RegionView, ReloadResult } from '../../src/admin/admin-view.js';
import type { HistoryPoint } from '../../src/admin/region-history.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { regionView } from '../support/region-view.js';
import { until } from '../support/wait.js';

const TOKEN = 's3cret-token';

class FakeView implements AdminView {
  isReady = true;
  regionReads = 0;
  upstream5xx = 0;
  reloadCalls = 0;
  nextReload: ReloadResult = { ok: true, version: 2 };

  regions(): Record<string, RegionView> {
    this.regionReads++;
    this.upstream5xx += 2;
    return {
      'us-east': regionView({
        breaker: 'open',
        inflight: 3,
        inflightLimit: 64,
        tokens: 12.3456,
        admittedRps: 40.129,
        shedRps: 9.871,
        baselineRps: 20.004,
        currentRps: 50.5555,
        surging: true,
        p50Ms: 4.567,
        p99Ms: 99.999,
        outcomes: { forwarded: 10, failover: 0, stale: 1, shed: 4, error: 2, local: 0 },
        // Two more 5xx on every read, so consecutive samples see a rate.
        upstreamResponses: { '1xx': 0, '2xx': 100, '3xx': 0, '4xx': 0, '5xx': this.upstream5xx },
        shed: { rate: { low: 4 } },
        upstreams: [{ url: 'http://127.0.0.1:9001', inflight: 3, ejected: false }],
      }),
    };
  }

  configInfo() {
    return { version: 1, loadedAt: '2024-01-01T00:00:00.000Z', lastError: null };
  }

  async reload(): Promise<ReloadResult> {
    this.reloadCalls++;
    return this.nextReload;
  }

  ready(): boolean {
    return this.isReady;
  }
}

const silentLog = new Writable({ write: (_chunk, _enc, done) => done() });
let server: AdminServer | undefined;
let view: FakeView;
let metrics: GatewayMetrics;

const HISTORY_POINTS = 5;

async function start(token?: string): Promise<string> {
  view = new FakeView();
  metrics = new GatewayMetrics();
  metrics.sampleRegionsWith(() => view.regions());
  metrics.region('us-east').requestDone('forwarded', 0.02);
  metrics.region('us-east').upstreamDuration(0.01);
  metrics.region('us-east').upstreamResponse(503);
  metrics.countBadRequest('headers-too-large');
  const opts = { host: '127.0.0.1', port: 0, token, eventsIntervalMs: 50, historyPoints: HISTORY_POINTS };
  server = await startAdminServer(opts, view, metrics, createLogger('fatal', silentLog));
  return `http://127.0.0.1:${server.port}`;
}

interface ServerEvent {
  event: string;
  data: unknown;
}

/** Reads server-sent events until `count` have arrived, returning their names and parsed data. */
async function readEvents(res: Response, count: number): Promise<ServerEvent[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: ServerEvent[] = [];
  let buffered = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end = buffered.indexOf('\n\n');
    while (end !== -1) {
      const lines = buffered.slice(0, end).split('\n');
      const data = lines.find((line) => line.startsWith('data: '));
      const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? 'message';
      if (data !== undefined) events.push({ event, data: JSON.parse(data.slice(6)) });
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
  reader.releaseLock();
  return events;
}

type RegionsEvent = { at: number; regions: Record<string, RegionView>; sample?: HistoryPoint['regions'] };

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('admin server', () => {
  it('answers health and readiness, turning readyz 503 while draining', async () => {
    // /healthz stays 200 throughout; /readyz follows the view's ready().
    const base = await start();
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.text()]).toEqual([200, 'ready']);
    view.isReady = false;
    const draining = await fetch(`${base}/readyz`);
    expect([draining.status, await draining.text()]).toEqual([503, 'draining']);
  });

  it('serves Prometheus text with the metric names the contract fixes', async () => {
    // Ops dashboards depend on these exact names.
    const base = await start();
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'process_resident_memory_bytes',
      'floodgate_requests_total{region="us-east",outcome="forwarded"} 1',
      'floodgate_breaker_state{region="us-east"} 2',
      'floodgate_region_tokens{region="us-east"}',
      'floodgate_inflight{region="us-east"} 3',
      'floodgate_upstream_duration_seconds_bucket{region="us-east",le="0.01"} 1',
      'floodgate_upstream_responses_total{region="us-east",class="5xx"} 1',
      'floodgate_upstream_responses_total{region="us-east",class="2xx"} 0',
      'floodgate_bad_requests_total{reason="headers-too-large"} 1',
      'floodgate_request_duration_seconds_bucket{region="us-east",outcome="forwarded",le="0.025"} 1',
      'floodgate_region_capacity_rps{region="us-east"} 50',
      'floodgate_build_info{version="',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('lists regions with tokens and rates rounded to two decimals', async () => {
    // The documented fields are present and the rest of the view passes through.
    const base = await start();
    const res = await fetch(`${base}/admin/regions`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { regions: Record<string, RegionView> };
    expect(body.regions['us-east']).toMatchObject({
      breaker: 'open',
      inflight: 3,
      tokens: 12.35,
      admittedRps: 40.13,
      shedRps: 9.87,
      baselineRps: 20,
      currentRps: 50.56,
      surging: true,
      p99Ms: 100,
      shed: { rate: { low: 4 } },
    });
  });

  it('reports the config version and last error', async () => {
    // /admin/config is the view's configInfo as JSON.
    const base = await start();
    const res = await fetch(`${base}/admin/config`);
    expect(await res.json()).toEqual({ version: 1, loadedAt: '2024-01-01T00:00:00.000Z', lastError: null });
  });

  it('refuses a reload without the right bearer token and never calls reload', async () => {
    // Missing, wrong, wrong-length and non-Bearer credentials all get 401.
    const base = await start(TOKEN);
    for (const authorization of [undefined, 'Bearer nope', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const res = await fetch(`${base}/admin/reload`, { method: 'POST', headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toMatchObject({ ok: false });
    }
    expect(view.reloadCalls).toBe(0);
  });

  it('reloads with the token: 200 with the version, 400 with the errors', async () => {
    // The status follows the view's result and the errors reach the caller unchanged.
    const base = await start(TOKEN);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const ok = await fetch(`${base}/admin/reload`, { method: 'POST', headers });
    expect([ok.status, await ok.json()]).toEqual([200, { ok: true, version: 2 }]);
    view.nextReload = { ok: false, errors: ['gateway.yaml: regions: required'] };
    const bad = await fetch(`${base}/admin/reload`, { method: 'POST', headers });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { ok: false, errors: ['gateway.yaml: regions: required'] },
    ]);
    expect(view.reloadCalls).toBe(2);
  });

  it('takes the auth scheme in any case (RFC 9110 §11.1)', async () => {
    const base = await start(TOKEN);
    for (const authorization of [`bearer ${TOKEN}`, `BEARER  ${TOKEN}`]) {
      const res = await fetch(`${base}/admin/reload`, { method: 'POST', headers: { authorization } });
      expect(res.status).toBe(200);
    }
    expect(view.reloadCalls).toBe(2);
  });

  it('reloads without credentials when no token is configured', async () => {
    // admin.token is optional; without it POST is open like the GET routes.
    const base = await start();
    const res = await fetch(`${base}/admin/reload`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(view.reloadCalls).toBe(1);
  });

  it('answers unknown paths 404 and wrong methods 405 without echoing the request', async () => {
    // Error bodies are fixed JSON, so nothing from the path or headers is reflected back.
    const base = await start();
    const missing = await fetch(`${base}/nothing-here-<script>?q=1`, {
      headers: { 'x-probe': 'reflected?' },
    });
    expect(missing.status).toBe(404);
    const missingBody = await missing.text();
    expect(JSON.parse(missingBody)).toEqual({ error: 'not-found' });
    expect(missingBody).not.toContain('script');
    const wrongMethod = await fetch(`${base}/healthz`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    const getReload = await fetch(`${base}/admin/reload`);
    expect(getReload.status).toBe(405);
    expect(getReload.headers.get('allow')).toBe('POST');
  });

  it('serves the dashboard page and its scripts and styles from memory', async () => {
    // The page references only same-origin assets, and each of them is served with its type.
    const base = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)="https?:/);
    const assets: [string, string, string][] = [
      ['/dashboard/uplot.js', 'text/javascript', 'uPlot'],
      ['/dashboard/uplot.css', 'text/css', '.uplot'],
      ['/dashboard/dashboard.js', 'text/javascript', 'EventSource'],
      ['/dashboard/dashboard-charts.js', 'text/javascript', 'RegionCharts'],
      ['/dashboard/dashboard.css', 'text/css', '.region'],
    ];
    for (const [path, type, marker] of assets) {
      expect(html).toContain(path);
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(await res.text()).toContain(marker);
    }
  });

  it('streams the history, then the regions as they are, then a sampled frame every tick', async () => {
    // The first two events come at once; later ones on the interval carry that tick's sample.
    const base = await start();
    const res = await fetch(`${base}/admin/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await readEvents(res, 4);
    await res.body!.cancel();
    expect(events.map((e) => e.event)).toEqual(['history', 'regions', 'regions', 'regions']);
    const [now, ...ticks] = events.slice(1).map((e) => e.data as RegionsEvent);
    expect(now!.sample).toBeUndefined();
    for (const event of [now!, ...ticks]) {
      expect(typeof event.at).toBe('number');
      expect(event.regions['us-east']?.breaker).toBe('open');
      expect(event.regions['us-east']?.tokens).toBe(12.35);
    }
    // Between reads only the 5xx count moves (two a read), so all of the new answers are 5xx.
    const sample = ticks[1]!.sample!['us-east']!;
    expect(sample.upstream5xxShare).toBe(1);
    expect(sample.upstream5xxRps).toBeGreaterThan(0);
    expect(sample).toMatchObject({ admittedRps: 40.13, shedRps: 9.87, limitRps: 50, surging: true });
    expect(sample.shedShare).toBeCloseTo(9.87 / 50, 4);
  });

  it('gives a freshly opened stream the kept history, at most historyPoints samples, oldest first', async () => {
    // A page opened after a while draws the recent past at once; the ring never grows past its bound.
    const base = await start();
    await until(() => view.regionReads > HISTORY_POINTS + 3, 10_000, 'enough samples');
    const res = await fetch(`${base}/admin/events`);
    const [history] = await readEvents(res, 1);
    await res.body!.cancel();
    const points = (history!.data as { points: HistoryPoint[] }).points;
    expect(points).toHaveLength(HISTORY_POINTS);
    const times = points.map((p) => p.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(points.at(-1)!.regions['us-east']?.limitRps).toBe(50);
    const json = (await (await fetch(`${base}/admin/history`)).json()) as { points: HistoryPoint[] };
    expect(json.points).toHaveLength(HISTORY_POINTS);
  });

  it('reads the region state once per tick however many streams are open', async () => {
    // Three pages share each sampled frame: they see the same `at` values, not one read each.
    const base = await start();
    const streams = await Promise.all([1, 2, 3].map(() => fetch(`${base}/admin/events`)));
    const seen = await Promise.all(streams.map((res) => readEvents(res, 6)));
    await Promise.all(streams.map((res) => res.body!.cancel()));
    const tickTimes = seen.map((events) =>
      events
        .filter((e) => (e.data as RegionsEvent).sample !== undefined)
        .map((e) => (e.data as RegionsEvent).at),
    );
    const shared = tickTimes[0]!.filter((at) => tickTimes[1]!.includes(at) && tickTimes[2]!.includes(at));
    expect(shared.length).toBeGreaterThanOrEqual(2);
  });

  it('ends open event streams when the server closes', async () => {
    // close() must not wait forever on a dashboard left open.
    const base = await start();
    const res = await fetch(`${base}/admin/events`);
    const reader = res.body!.getReader();
    await reader.read();
    await server!.close();
    server = undefined;
    let done = false;
    while (!done) done = (await reader.read().catch(() => ({ done: true }))).done;
    expect(done).toBe(true);
  });
});
