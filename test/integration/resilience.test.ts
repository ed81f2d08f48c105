import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText, type SimpleResponse } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

const BREAKER = {
  errorThresholdPercentage: 50,
  volumeThreshold: 4,
  windowMs: 10_000,
  resetTimeoutMs: 60_000,
};

describe('resilience', () => {
  let east: FaultUpstream;
  let west: FaultUpstream;
  let gw: TestGateway;

  async function start(
    eastCapacity: Record<string, unknown>,
    westCapacity: Record<string, unknown>,
    extra = {},
    eastBreaker = BREAKER,
  ) {
    east = await startFaultUpstream();
    west = await startFaultUpstream();
    gw = await startTestGateway({
      regions: {
        'us-east': {
          upstreams: [east.url],
          capacity: eastCapacity,
          timeoutMs: 500,
          breaker: eastBreaker,
          failover: ['us-west'],
        },
        'us-west': { upstreams: [west.url], capacity: westCapacity, timeoutMs: 500, breaker: BREAKER },
      },
      routing: { default: 'us-east' },
      routes: [{ match: { pathPrefix: '/api/likes' }, priority: 'normal', staleCache: { ttlMs: 60_000 } }],
      ...extra,
    });
  }

  async function openEastBreaker(): Promise<void> {
    east.setMode({ kind: 'status', status: 500 });
    for (let i = 0; i < BREAKER.volumeThreshold; i++)
      await fetchText(`${gw.publicUrl}/warm/${i}`, { method: 'POST', body: 'x' });
    await until(() => gw.view.regions()['us-east']!.breaker === 'open', 5000, 'breaker open');
  }

  afterEach(async () => {
    await gw?.close();
    await east?.close();
    await west?.close();
  });

  // Upstream 5xx open the breaker; while open, requests are refused without reaching the upstream.
  it('opens the breaker on upstream errors and stops sending', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    await openEastBreaker();
    const seen = east.requests.length;
    const refused = await fetchText(`${gw.publicUrl}/write`, { method: 'POST', body: 'payload' });
    expect(refused.status).toBe(503);
    expect(refused.headers['x-floodgate-shed']).toBe('circuit-open');
    expect(JSON.parse(refused.body)).toEqual({
      error: 'overloaded',
      reason: 'circuit-open',
      region: 'us-east',
    });
    expect(east.requests.length).toBe(seen);
    const metrics = await fetchText(`${gw.adminUrl}/metrics`);
    expect(metrics.body).toMatch(/floodgate_breaker_state\{region="us-east"\} 2/);
    expect(gw.logs.some((l) => l.event === 'breaker-opened' && l.region === 'us-east')).toBe(true);
  });

  // With the home breaker open, idempotent requests fail over; requests with a body do not.
  it('fails over GETs only, marked with the home region', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    await openEastBreaker();
    const get = await fetchText(`${gw.publicUrl}/api/video/1`);
    expect(get.status).toBe(200);
    expect(get.headers['x-floodgate-region']).toBe('us-west');
    expect(get.headers['x-floodgate-failover-from']).toBe('us-east');
    expect(west.requests.at(-1)!.url).toBe('/api/video/1');
    const westBefore = west.requests.length;
    const post = await fetchText(`${gw.publicUrl}/api/video/1`, { method: 'POST', body: 'once' });
    expect(post.status).toBe(503);
    expect(west.requests.length).toBe(westBefore);
  });

  // When the home bucket is empty, GETs spill over, but only while the target has tokens above its low reserve.
  it('fails over only into tokens the target region left unused', async () => {
    // us-west's bucket is full but refills too slowly to overflow: it has no spare token to lend.
    await start({ rps: 0.01, burst: 1 }, { rps: 0.01, burst: 10 });
    const answers: SimpleResponse[] = [];
    const took: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      answers.push(await fetchText(`${gw.publicUrl}/api/video/${i}`));
      took.push(performance.now() - started);
    }
    expect(answers.map((a) => a.status)).toEqual([200, 503, 503, 503, 503, 503]);
    // Refused at home with no spare capacity in the failover region: answered at once, never held
    // for capacity that may come (shedding must stay cheap under overload). A held one would take
    // us-west's paceMaxWaitMs (250 ms by default); the bound leaves a busy machine what it can.
    for (const ms of took.slice(1)) expect(ms).toBeLessThan(200);
    expect(answers.filter((a) => a.headers['x-floodgate-region'] === 'us-west')).toEqual([]);
    // us-west's own users keep their whole burst (less critical's own share: these are normal).
    for (let i = 0; i < 9; i++) {
      const own = await fetchText(`${gw.publicUrl}/api/video/own${i}`, {
        headers: { 'x-region': 'us-west' },
      });
      expect(own.status).toBe(200);
      expect(own.headers['x-floodgate-failover-from']).toBeUndefined();
    }
  });

  it('spills over into the refill a target region does not use', async () => {
    // us-west refills at 1000 tokens/s into a full bucket: what overflows (up to a whole burst) is spare.
    await start({ rps: 0.01, burst: 1 }, { rps: 1000, burst: 10 });
    const westBucket = gw.gateway.runtime.regions.get('us-west')!.admission.bucket;
    await until(() => westBucket.spareTokens(performance.now()) >= 5);
    const answers: SimpleResponse[] = [];
    for (let i = 0; i < 6; i++) answers.push(await fetchText(`${gw.publicUrl}/api/video/${i}`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.slice(1).map((a) => a.headers['x-floodgate-failover-from'])).toEqual(
      Array(5).fill('us-east'),
    );
  });

  // A region that cannot even be connected to sends GETs to its failover region at once, before
  // its breaker has counted enough failures to open; a POST is never sent elsewhere.
  it('fails over GETs when the home region refuses connections', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    await east.close();
    const get = await fetchText(`${gw.publicUrl}/api/video/1`);
    expect(get.status).toBe(200);
    expect(get.headers['x-floodgate-region']).toBe('us-west');
    expect(get.headers['x-floodgate-failover-from']).toBe('us-east');
    const post = await fetchText(`${gw.publicUrl}/api/video/1`, { method: 'POST', body: 'once' });
    expect(post.status).toBe(502);
    expect(west.requests.map((r) => r.method)).toEqual(['GET']);
    await until(
      () => gw.view.regions()['us-east']!.inflight === 0 && gw.view.regions()['us-west']!.inflight === 0,
    );
    expect(gw.view.regions()['us-east']!.outcomes.failover).toBe(0);
    expect(gw.view.regions()['us-west']!.outcomes.failover).toBe(1);
  });

  // Issue 14: the GETs in flight when a region's backends die all fail over in the same instant.
  // Past the slots failover may fill in the target (here 2 of 4), they wait for one to come free
  // instead of failing, up to the target's paceMaxWaitMs; the target's own traffic keeps the rest.
  // (Here every GET finds the home region unreachable: its trip upstream failed.)
  it('lets failover wait a moment for a slot in the target instead of failing', async () => {
    await start({ rps: 1000 }, { rps: 1000, burst: 100, maxConcurrent: 4 });
    west.setMode({ kind: 'delay', ms: 100 });
    await east.close();
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => fetchText(`${gw.publicUrl}/api/video/${i}`)),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => a.headers['x-floodgate-failover-from'])).toEqual(Array(4).fill('us-east'));
    // The last two went once the first two were answered, never more than two at once.
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(gw.view.regions()['us-west']!.outcomes.failover).toBe(4);
  });

  it('lets no more wait for the target than failover may hold there, answering the rest at once', async () => {
    // us-east's breaker stays closed: every GET's trip upstream fails, none is refused at home.
    await start(
      { rps: 1000 },
      { rps: 1000, burst: 100, maxConcurrent: 4 },
      {},
      { ...BREAKER, volumeThreshold: 100 },
    );
    west.setMode({ kind: 'delay', ms: 150 });
    await east.close();
    const answers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const started = performance.now();
        const answer = await fetchText(`${gw.publicUrl}/api/video/${i}`);
        return { status: answer.status, ms: performance.now() - started };
      }),
    );
    // Two go at once, two wait for their slots, two find no place to wait and get their 502 at once.
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 502, 502]);
    for (const refused of answers.filter((a) => a.status === 502)) expect(refused.ms).toBeLessThan(100);
    expect(west.requests.length).toBe(4);
  });

  it('answers a failover that found no slot within paceMaxWaitMs as before', async () => {
    await start({ rps: 1000 }, { rps: 1000, burst: 100, maxConcurrent: 4, paceMaxWaitMs: 100 });
    west.setMode({ kind: 'delay', ms: 400 });
    await east.close();
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => fetchText(`${gw.publicUrl}/api/video/${i}`)),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 502, 502]);
    expect(west.requests.length).toBe(2);
  });

  // A request with a body that fails upstream is answered 502 and was sent exactly once.
  it('never replays a request body', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    east.setMode({ kind: 'reset' });
    const res = await fetchText(`${gw.publicUrl}/api/likes/1`, { method: 'POST', body: 'like' });
    expect(res.status).toBe(502);
    expect(east.requests.filter((r) => r.method === 'POST').length).toBe(1);
    expect(west.requests.length).toBe(0);
  });

  // An idempotent request without a body is retried once after a connection reset, never twice in
  // one region; reset again, it fails over like a request its home region could not reach.
  it('retries a GET once after a reset, then fails it over', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    let resets = 1;
    east.setMode(() => (resets-- > 0 ? { kind: 'reset' } : { kind: 'ok' }));
    const once = await fetchText(`${gw.publicUrl}/api/video/1`);
    expect(once.status).toBe(200);
    expect(once.headers['x-floodgate-region']).toBe('us-east');
    expect(east.requests.length).toBe(2);
    east.setMode({ kind: 'reset' });
    const moved = await fetchText(`${gw.publicUrl}/api/video/2`);
    expect(moved.status).toBe(200);
    expect(moved.headers['x-floodgate-failover-from']).toBe('us-east');
    expect(east.requests.length).toBe(4);
    expect(west.requests.length).toBe(1);
    // The failover region resets it too: retried there once, and then it is a bad gateway.
    west.setMode({ kind: 'reset' });
    const lost = await fetchText(`${gw.publicUrl}/api/video/3`);
    expect(lost.status).toBe(502);
    expect(east.requests.length).toBe(6);
    expect(west.requests.length).toBe(3);
  });

  // A timeout is not a reason to send a GET elsewhere: the region is slow, not gone.
  it('never fails a timed-out GET over', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    east.setMode({ kind: 'hang' });
    const res = await fetchText(`${gw.publicUrl}/api/video/1`);
    expect(res.status).toBe(504);
    expect(west.requests.length).toBe(0);
  });

  // The last good GET answer is served, marked stale, when the upstream fails or the request is shed.
  it('serves the last good answer instead of an error', async () => {
    await start({ rps: 1000 }, { rps: 1000 });
    east.setMode({ kind: 'ok', body: '{"likes":42}', headers: { 'content-type': 'application/json' } });
    const fresh = await fetchText(`${gw.publicUrl}/api/likes/7`);
    expect(fresh.body).toBe('{"likes":42}');
    expect(fresh.headers['x-floodgate-cache']).toBeUndefined();

    east.setMode({ kind: 'status', status: 500 });
    const onError = await fetchText(`${gw.publicUrl}/api/likes/7`);
    expect(onError.status).toBe(200);
    expect(onError.body).toBe('{"likes":42}');
    expect(onError.headers['x-floodgate-cache']).toBe('stale');
    expect(onError.headers['content-type']).toBe('application/json');
    expect(Number(onError.headers.age)).toBeGreaterThanOrEqual(0);
    // Logged and counted as a copy in place of the upstream's 5xx, not as an unreachable upstream.
    const staleLine = () => gw.logs.findLast((l) => l.requestId === onError.headers['x-request-id']);
    await expect.poll(staleLine).toMatchObject({ outcome: 'stale', reason: '5xx', upstream: east.url });
    expect(await gw.metrics.registry.metrics()).toMatch(
      /floodgate_stale_served_total\{[^}]*reason="upstream-5xx"[^}]*\} 1/,
    );

    east.setMode({ kind: 'hang' });
    const onTimeout = await fetchText(`${gw.publicUrl}/api/likes/7`);
    expect(onTimeout.headers['x-floodgate-cache']).toBe('stale');

    // Uncached paths still get the plain error.
    east.setMode({ kind: 'status', status: 500 });
    expect((await fetchText(`${gw.publicUrl}/api/likes/8`)).status).toBe(500);
    const regions = gw.view.regions()['us-east']!;
    expect(regions.outcomes.stale).toBe(2);
  });

  // A stale copy also answers a GET that would be shed (us-west has no failover region to try first).
  it('serves stale when the request would be shed', async () => {
    await start({ rps: 1000 }, { rps: 0.01, burst: 2 });
    const west = { 'x-region': 'us-west' };
    const fresh = await fetchText(`${gw.publicUrl}/api/likes/9`, { headers: west });
    expect(fresh.headers['x-floodgate-cache']).toBeUndefined();
    const shed = await fetchText(`${gw.publicUrl}/api/likes/9`, { headers: west });
    expect(shed.status).toBe(200);
    expect(shed.headers['x-floodgate-cache']).toBe('stale');
    expect(shed.headers['x-floodgate-region']).toBe('us-west');
    expect(shed.body).toBe(fresh.body);
    // Without a kept copy the same request is shed.
    expect((await fetchText(`${gw.publicUrl}/api/likes/10`, { headers: west })).status).toBe(503);
  });

  // After the reset timeout, one probe goes through; its success closes the breaker.
  it('half-opens after the reset timeout and closes on a good probe', async () => {
    east = await startFaultUpstream({ kind: 'status', status: 500 });
    west = await startFaultUpstream();
    const breaker = { ...BREAKER, resetTimeoutMs: 300 };
    gw = await startTestGateway({
      regions: { 'us-east': { upstreams: [east.url], capacity: { rps: 1000 }, breaker } },
      routing: { default: 'us-east' },
    });
    for (let i = 0; i < 4; i++) await fetchText(`${gw.publicUrl}/x`);
    await until(() => gw.view.regions()['us-east']!.breaker === 'open');
    east.setMode({ kind: 'ok' });
    await until(() => gw.view.regions()['us-east']!.breaker === 'half-open', 5000, 'half-open');
    expect((await fetchText(`${gw.publicUrl}/probe`)).status).toBe(200);
    await until(() => gw.view.regions()['us-east']!.breaker === 'closed', 5000, 'closed');
    const events = gw.logs.filter((l) => String(l.event).startsWith('breaker-')).map((l) => l.event);
    expect(events).toEqual(['breaker-opened', 'breaker-half-open', 'breaker-closed']);
  });
});
