import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../src/admin/admin-server.js';
import type { AdminView, RegionView, ReloadResult } from '../../src/admin/admin-view.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';

const TOKEN = 's3cret-token';

class FakeView implements AdminView {
  isReady = true;
  regionReads = 0;
  reloadCalls = 0;
  nextReload: ReloadResult = { ok: true, version: 2 };

  regions(): Record<string, RegionView> {
    this.regionReads++;
    return {
      'us-east': {
        breaker: 'open',
        inflight: 3,
        inflightLimit: 64,
        tokens: 12.3456,
        burst: 100,
        rps: 50,
        admittedRps: 40.129,
        shedRps: 9.871,
        baselineRps: 20.004,
        currentRps: 50.5555,
        surging: true,
        p50Ms: 4.567,
        p99Ms: 99.999,
        outcomes: { forwarded: 10, failover: 0, stale: 1, shed: 4, error: 2 },
        shed: { rate: { low: 4 } },
        upstreams: [{ url: 'http://127.0.0.1:9001', inflight: 3, ejected: false }],
      },
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

async function start(token?: string): Promise<string> {
  view = new FakeView();
  metrics = new GatewayMetrics();
  metrics.sampleRegionsWith(() => view.regions());
  metrics.region('us-east').outcome('forwarded');
  metrics.region('us-east').upstreamDuration(0.01);
  const opts = { host: '127.0.0.1', port: 0, token, eventsIntervalMs: 50 };
  server = await startAdminServer(opts, view, metrics, createLogger('fatal', silentLog));
  return `http://127.0.0.1:${server.port}`;
}

/** Reads server-sent events until `count` have arrived, returning their data fields parsed. */
async function readEvents(res: Response, count: number): Promise<unknown[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: unknown[] = [];
  let buffered = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end = buffered.indexOf('\n\n');
    while (end !== -1) {
      const data = buffered
        .slice(0, end)
        .split('\n')
        .find((line) => line.startsWith('data: '));
      if (data !== undefined) events.push(JSON.parse(data.slice(6)));
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf('\n\n');
    }
  }
  reader.releaseLock();
  return events;
}

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

  it('streams the regions as server-sent events, repeatedly', async () => {
    // The first event comes at once and later ones on the interval, each with the regions JSON.
    const base = await start();
    const res = await fetch(`${base}/admin/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await readEvents(res, 2)) as { at: number; regions: Record<string, RegionView> }[];
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(typeof event.at).toBe('number');
      expect(event.regions['us-east']?.breaker).toBe('open');
      expect(event.regions['us-east']?.tokens).toBe(12.35);
    }
    await res.body!.cancel();
  });

  it('stops reading region state once the event client has gone', async () => {
    // The ticker runs only while someone listens, so an idle admin port costs nothing.
    const base = await start();
    const controller = new AbortController();
    const res = await fetch(`${base}/admin/events`, { signal: controller.signal });
    await readEvents(res, 2);
    controller.abort();
    await waitUntil(async () => {
      const before = view.regionReads;
      await delay(200);
      return view.regionReads === before;
    });
    const settled = view.regionReads;
    await delay(300);
    expect(view.regionReads).toBe(settled);
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
  }
}
