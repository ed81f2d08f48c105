import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayConfig, parseConfigText } from '../../src/config/load.js';
import { type RunningGateway, startGateway } from '../../src/start-gateway.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

describe('reload', () => {
  let a: FaultUpstream;
  let b: FaultUpstream;
  let gw: TestGateway;

  const config = (regions: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    listen: { host: '127.0.0.1', port: Number(new URL(gw.publicUrl).port) },
    admin: { host: '127.0.0.1', port: Number(new URL(gw.adminUrl).port) },
    routing: { default: 'us-east' },
    regions,
    ...extra,
  });

  afterEach(async () => {
    await gw?.close();
    await a?.close();
    await b?.close();
  });

  // A valid reload swaps the config whole while regions keep their live state (tokens spent stay spent).
  it('applies a new config and keeps region state', async () => {
    a = await startFaultUpstream();
    b = await startFaultUpstream();
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 0.01, burst: 3 } } },
      routing: { default: 'us-east' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetchText(`${gw.publicUrl}/x`)).status);
    // normal work keeps a quarter of the bucket in reserve: two of three tokens are spent.
    expect(statuses).toEqual([200, 200, 503, 503]);
    const region = gw.gateway.runtime.regions.get('us-east');

    await gw.writeConfig(
      config({
        'us-east': { upstreams: [a.url], capacity: { rps: 0.01, burst: 4 } },
        'us-west': { upstreams: [b.url], capacity: { rps: 100 } },
      }),
    );
    expect(await gw.reload()).toEqual({ ok: true, version: 2 });
    expect(gw.gateway.runtime.regions.get('us-east')).toBe(region);
    // The bucket kept its (empty) fill instead of starting full at the new burst.
    expect((await fetchText(`${gw.publicUrl}/x`)).status).toBe(503);
    const west = await fetchText(`${gw.publicUrl}/x`, { headers: { 'x-region': 'us-west' } });
    expect(west.headers['x-floodgate-region']).toBe('us-west');
    expect(gw.view.configInfo()).toMatchObject({ version: 2, lastError: null });
    expect(gw.logs.some((l) => l.event === 'reload-applied' && l.version === 2)).toBe(true);
  });

  // An invalid file changes nothing and its errors show in lastError.
  it('rejects an invalid file and keeps serving', async () => {
    a = await startFaultUpstream();
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
      routing: { default: 'us-east' },
    });
    await gw.writeConfig(config({ 'us-east': { upstreams: [a.url], capacity: { rps: -1 } } }));
    const result = await gw.reload();
    expect(result.ok).toBe(false);
    expect(gw.view.configInfo().lastError).toContain(
      'regions.us-east.capacity.rps: must be a positive number',
    );
    expect(gw.view.configInfo().version).toBe(1);
    expect((await fetchText(`${gw.publicUrl}/x`)).status).toBe(200);
    expect(gw.logs.some((l) => l.event === 'reload-rejected')).toBe(true);
  });

  // A reload during the drain delay is refused as unavailable, not as a bad file: the alert on
  // rejected reloads must not fire at every shutdown.
  it('does not apply or count as rejected a reload asked for while shutting down', async () => {
    a = await startFaultUpstream();
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
      routing: { default: 'us-east' },
      drainDelayMs: 1000,
    });
    const rejected = async () =>
      /floodgate_config_reload_total\{result="rejected"\} (\d+)/.exec(
        (await fetchText(`${gw.adminUrl}/metrics`)).body,
      )?.[1];
    expect(await rejected()).toBe('0');
    const shutdown = gw.shutdown();
    const res = await fetchText(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ ok: false, shuttingDown: true });
    expect(await rejected()).toBe('0');
    expect(gw.view.configInfo()).toMatchObject({ version: 1, lastError: null });
    expect(gw.logs.some((l) => l.event === 'reload-not-applied')).toBe(true);
    await shutdown;
  });

  // A request in flight finishes on the upstream it started with, even when the reload moves the region.
  it('lets requests in flight finish across a reload that changes upstreams', async () => {
    a = await startFaultUpstream({ kind: 'delay', ms: 600 });
    b = await startFaultUpstream();
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
      routing: { default: 'us-east' },
    });
    const inFlight = fetchText(`${gw.publicUrl}/slow`);
    await until(() => a.requests.length === 1);
    await gw.writeConfig(config({ 'us-east': { upstreams: [b.url], capacity: { rps: 100 } } }));
    expect((await gw.reload()).ok).toBe(true);
    const next = await fetchText(`${gw.publicUrl}/next`);
    expect(next.status).toBe(200);
    expect(b.requests.map((r) => r.url)).toEqual(['/next']);
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(JSON.parse(finished.body).path).toBe('/slow');
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
  });

  // lru-cache's bound is fixed when it is made, so new staleCache bounds mean a new store; the copies
  // kept before the reload must still answer after it (raising the bound mid-incident loses nothing).
  it('keeps stale copies across a reload that changes the stale cache bounds', async () => {
    a = await startFaultUpstream({ kind: 'ok', body: 'last good' });
    const breaker = { volumeThreshold: 10_000, errorThresholdPercentage: 100 };
    const regions = { 'us-east': { upstreams: [a.url], capacity: { rps: 100 }, breaker } };
    const routes = [{ match: { pathPrefix: '/api/' }, staleCache: { ttlMs: 60_000 } }];
    gw = await startTestGateway({ regions, routing: { default: 'us-east' }, routes });
    expect((await fetchText(`${gw.publicUrl}/api/likes/1`)).body).toBe('last good');
    const before = gw.gateway.runtime.staleCache;
    await until(() => before.size === 1);

    const staleCache = { maxBytes: 32 << 20, maxEntryBytes: 512 << 10 };
    await gw.writeConfig(config(regions, { routes, staleCache }));
    expect((await gw.reload()).ok).toBe(true);
    expect(gw.gateway.runtime.staleCache).not.toBe(before);
    a.setMode({ kind: 'status', status: 500 });
    const stale = await fetchText(`${gw.publicUrl}/api/likes/1`);
    expect(stale.status).toBe(200);
    expect(stale.headers['x-floodgate-cache']).toBe('stale');
    expect(stale.body).toBe('last good');
  });

  // Failed-over GETs waiting for spare capacity in a region a reload removes are requests in flight
  // too: the region's pools stay open until they have been answered there.
  it('lets failed-over requests waiting for a slot in a removed region finish there', async () => {
    a = await startFaultUpstream();
    b = await startFaultUpstream({ kind: 'delay', ms: 300 });
    const west = {
      upstreams: [b.url],
      capacity: { rps: 1000, burst: 100, maxConcurrent: 4, paceMaxWaitMs: 2000 },
    };
    gw = await startTestGateway({
      regions: {
        'us-east': { upstreams: [a.url], capacity: { rps: 1000 }, failover: ['us-west'] },
        'us-west': west,
      },
      routing: { default: 'us-east' },
    });
    await a.close();
    const answers = Promise.all(Array.from({ length: 4 }, (_, i) => fetchText(`${gw.publicUrl}/v/${i}`)));
    // Failover may hold 2 of us-west's 4 slots: two are there, two wait for one of those.
    await until(() => b.requests.length === 2);
    await gw.writeConfig(config({ 'us-east': { upstreams: [a.url], capacity: { rps: 1000 } } }));
    expect((await gw.reload()).ok).toBe(true);
    const done = await answers;
    expect(done.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(done.map((r) => r.headers['x-floodgate-failover-from'])).toEqual(Array(4).fill('us-east'));
    expect(b.requests.length).toBe(4);
  });

  // Settings that apply live: the admin token (the old one stops working) and the log level.
  it('rotates the admin token and log level on reload', async () => {
    a = await startFaultUpstream();
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
      routing: { default: 'us-east' },
      admin: { token: 'old' },
    });
    const post = (token: string) =>
      fetchText(`${gw.adminUrl}/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
    await gw.writeConfig(
      config(
        { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
        {
          admin: { host: '127.0.0.1', port: Number(new URL(gw.adminUrl).port), token: 'new' },
          log: { level: 'warn' },
        },
      ),
    );
    expect((await post('old')).status).toBe(200);
    expect((await post('old')).status).toBe(401);
    expect((await post('new')).status).toBe(200);
    const before = gw.logs.length;
    await fetchText(`${gw.publicUrl}/quiet`);
    expect(gw.logs.slice(before).some((l) => l.path === '/quiet')).toBe(false);
  });

  // A region removed by a reload disappears from the admin view and the metrics.
  it('forgets removed regions', async () => {
    a = await startFaultUpstream();
    b = await startFaultUpstream();
    gw = await startTestGateway({
      regions: {
        'us-east': { upstreams: [a.url], capacity: { rps: 100 } },
        'us-west': { upstreams: [b.url], capacity: { rps: 100 } },
      },
      routing: { default: 'us-east' },
    });
    await fetchText(`${gw.publicUrl}/x`, { headers: { 'x-region': 'us-west' } });
    await gw.writeConfig(config({ 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } }));
    expect((await gw.reload()).ok).toBe(true);
    expect(Object.keys(gw.view.regions())).toEqual(['us-east']);
    const metrics = (await fetchText(`${gw.adminUrl}/metrics`)).body;
    expect(metrics).not.toContain('region="us-west"');
    const routed = await fetchText(`${gw.publicUrl}/x`, { headers: { 'x-region': 'us-west' } });
    expect(routed.headers['x-floodgate-region']).toBe('us-east');
  });

  // Issue 11: an upstream URL undici cannot parse passed validation and a reload then killed the gateway.
  it.each(['http://127.0.0.1:70000', 'http://[::1', 'http://a:b:c'])(
    'rejects the upstream %s and keeps serving',
    async (bad) => {
      a = await startFaultUpstream();
      gw = await startTestGateway({
        regions: { 'us-east': { upstreams: [a.url], capacity: { rps: 100 } } },
        routing: { default: 'us-east' },
      });
      await gw.writeConfig(config({ 'us-east': { upstreams: [bad], capacity: { rps: 100 } } }));
      const result = await gw.reload();
      expect(result.ok).toBe(false);
      expect(gw.view.configInfo().lastError).toContain(`${gw.configPath}: regions.us-east.upstreams.0: `);
      expect((await fetchText(`${gw.publicUrl}/x`)).status).toBe(200);
    },
  );
});

describe('a reload whose runtime cannot be built', () => {
  let a: FaultUpstream;
  let running: RunningGateway | undefined;
  afterEach(async () => {
    await running?.shutdown();
    running = undefined;
    await a?.close();
  });

  // Build-then-commit: an exception while the new runtime is built (here an unvalidated config, as
  // if validation had missed something) leaves the old runtime serving, its regions untouched.
  it('leaves the old runtime and its regions as they were', async () => {
    a = await startFaultUpstream();
    const text = (burst: number, extra = '') => `
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
regions:
  us-east: { upstreams: ["${a.url}"], capacity: { rps: 0.01, burst: ${burst} } }
${extra}
routing: { default: us-east }
`;
    let next: GatewayConfig = parseConfigText(text(3), 'gw.yaml', {});
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
        done();
      },
    });
    running = await startGateway({ configPath: 'gw.yaml', load: async () => next, logger: pino(sink) });
    for (let i = 0; i < 2; i++) expect((await fetchText(`${running.publicUrl}/x`)).status).toBe(200);
    expect((await fetchText(`${running.publicUrl}/x`)).status).toBe(503);
    const before = running.gateway.runtime;
    const east = before.regions.get('us-east')!;

    next = parseConfigText(
      text(
        50,
        '  us-west: { upstreams: ["http://127.0.0.1:1"], capacity: { rps: 1 } }\nlog: { level: warn }',
      ),
      'gw.yaml',
      {},
    );
    next.regions['us-west']!.upstreams = ['http://[::1'];
    const answer = await fetchText(`${running.adminUrl}/admin/reload`, { method: 'POST' });

    expect(answer.status).toBe(400);
    expect(running.gateway.runtime).toBe(before);
    expect(east.config.capacity.burst).toBe(3);
    expect(east.view().burst).toBe(3);
    const linesBefore = logs.length;
    expect((await fetchText(`${running.publicUrl}/after`)).status).toBe(503);
    // The log level of the rejected file (warn) was not applied: the access line is still written.
    await until(() => logs.slice(linesBefore).some((l) => l.path === '/after'));
    expect(running.view.configInfo()).toMatchObject({ version: 1 });
    expect(running.view.configInfo().lastError).toContain('Invalid URL');
    expect(logs.some((l) => l.event === 'reload-rejected')).toBe(true);
    const metrics = (await fetchText(`${running.adminUrl}/metrics`)).body;
    expect(metrics).not.toContain('region="us-west"');
  });
});
