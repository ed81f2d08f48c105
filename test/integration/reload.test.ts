import { afterEach, describe, expect, it } from 'vitest';
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
});
