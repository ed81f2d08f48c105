/**
 * The stale cache's shared-cache rules (RFC 9111), end to end through a real gateway: what one
 * client's request leaves in the cache must never reach another client it was not meant for, and a
 * copy is served stale only where RFC 9111 §4.2.4 allows it. Each test first shows that copies are
 * served at all (a positive control), so a cache that never answered could not pass.
 */
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText, rawRequest, type SimpleResponse } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

interface Answer {
  body: string;
  headers?: Record<string, string>;
}

describe('stale cache rules (RFC 9111)', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let failing = false;
  let cutShort = false;
  let answer: (req: IncomingMessage) => Answer = () => ({ body: 'plain' });

  beforeAll(async () => {
    upstream = await startFaultUpstream((req) => {
      if (cutShort) return { kind: 'short-body', declared: 4096, send: 1024 };
      return failing ? { kind: 'status', status: 500 } : { kind: 'ok', ...answer(req) };
    });
    // A breaker that never opens here: every failure is an upstream 500, answered by the stale path.
    const breaker = { volumeThreshold: 10_000, errorThresholdPercentage: 100 };
    gw = await startTestGateway({
      regions: {
        'us-east': { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 }, breaker },
        // Room for one request, then every further one is shed: the shed path with a healthy origin.
        'us-west': { upstreams: [upstream.url], capacity: { rps: 0.01, burst: 2 }, breaker },
      },
      routing: { default: 'us-east' },
      routes: [{ match: { pathPrefix: '/api/' }, staleCache: { ttlMs: 60_000 } }],
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  beforeEach(() => {
    failing = false;
    cutShort = false;
    answer = () => ({ body: 'plain' });
  });

  let paths = 0;
  /** A path no earlier test has touched, so copies never carry over between tests. */
  const freshPath = (name: string) => `/api/${name}/${++paths}`;

  function get(path: string, headers: Record<string, string> = {}): Promise<SimpleResponse> {
    return fetchText(`${gw.publicUrl}${path}`, { headers });
  }

  function expectStale(res: SimpleResponse, body: string): void {
    expect(res.status).toBe(200);
    expect(res.headers['x-floodgate-cache']).toBe('stale');
    expect(res.body).toBe(body);
  }

  function expectNotFromCache(res: SimpleResponse): void {
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.headers['x-floodgate-cache']).toBeUndefined();
  }

  // Not a rule of RFC 9111 but the cache's memory bound: an answer cut short is never kept (§3.3),
  // and the body copied so far is given back to the bound on captures under way.
  it('keeps nothing of an answer cut short, and gives back what its capture held', async () => {
    const path = freshPath('cut');
    cutShort = true;
    await expect(get(path)).rejects.toThrow();
    const cache = gw.gateway.runtime.staleCache;
    await until(() => gw.logs.some((l) => l.path === path), 5000, 'its access line');
    expect(cache.bytesCapturing).toBe(0);
    const metrics = (await fetchText(`${gw.adminUrl}/metrics`)).body;
    expect(metrics).toMatch(/^floodgate_stale_cache_capturing_bytes 0$/m);
    cutShort = false;
    failing = true;
    expectNotFromCache(await get(path));
  });

  // RFC 9111 §3.5: a shared cache does not reuse an answer to an authorized request (failing region).
  it('§3.5: never serves an authorized answer to an anonymous request when the region fails', async () => {
    const path = freshPath('me');
    answer = (req) => ({ body: `secret of ${req.headers.authorization ?? 'nobody'}` });
    const alice = await get(path, { authorization: 'Bearer alice' });
    expect(alice.body).toBe('secret of Bearer alice');
    failing = true;
    const anonymous = await get(path);
    expectNotFromCache(anonymous);
    expect(anonymous.body).not.toContain('alice');
  });

  // RFC 9111 §3.5, on the shed path: a region shedding with a healthy origin must not leak either.
  it('§3.5: never serves an authorized answer to an anonymous request when the region sheds', async () => {
    const path = freshPath('me-shed');
    const west = { 'x-region': 'us-west' };
    answer = (req) => ({ body: `secret of ${req.headers.authorization ?? 'nobody'}` });
    const alice = await get(path, { ...west, authorization: 'Bearer alice' });
    expect(alice.body).toBe('secret of Bearer alice');
    const anonymous = await get(path, west);
    expect(anonymous.status).toBe(503);
    expect(anonymous.headers['x-floodgate-cache']).toBeUndefined();
    expect(anonymous.body).not.toContain('alice');
  });

  // RFC 9111 §4 (the target URI, with its authority, is part of the key): one Host's copy is its own.
  it('§4: keys copies by Host', async () => {
    const path = freshPath('site');
    answer = (req) => ({ body: `home page of ${req.headers.host}` });
    await get(path, { host: 'a.example' });
    failing = true;
    expectNotFromCache(await get(path, { host: 'b.example' }));
    expectStale(await get(path, { host: 'a.example' }), 'home page of a.example');
  });

  // RFC 9111 §4.1: a copy with Vary is served only to requests whose nominated headers match.
  it('§4.1: serves a Vary copy only to a request with the same varied headers', async () => {
    const path = freshPath('varied');
    answer = (req) => ({
      body: `encoded ${req.headers['accept-encoding']}`,
      headers: { vary: 'accept-encoding' },
    });
    await get(path, { 'accept-encoding': 'gzip' });
    failing = true;
    expectNotFromCache(await get(path, { 'accept-encoding': 'identity' }));
    expectStale(await get(path, { 'accept-encoding': 'gzip' }), 'encoded gzip');
  });

  // RFC 9111 §4.2.4: no stale copy where no-cache, must-revalidate, proxy-revalidate or s-maxage forbid it.
  it.each([
    ['no-cache', 'no-cache'],
    ['must-revalidate', 'max-age=0, must-revalidate'],
    ['proxy-revalidate', 'max-age=0, proxy-revalidate'],
    ['s-maxage', 's-maxage=0'],
  ])('§4.2.4: never serves a stale copy marked %s', async (name, cacheControl) => {
    const control = freshPath('plain');
    const marked = freshPath(name);
    answer = (req) =>
      req.url === marked ? { body: 'marked', headers: { 'cache-control': cacheControl } } : { body: 'plain' };
    await get(control);
    await get(marked);
    failing = true;
    expectStale(await get(control), 'plain');
    expectNotFromCache(await get(marked));
  });

  // RFC 9111 §5.2.1.5: the response to a request that said no-store is not kept.
  it('§5.2.1.5: does not store the answer to a request that said no-store', async () => {
    const control = freshPath('plain');
    const path = freshPath('no-store-request');
    await get(control);
    await get(path, { 'cache-control': 'no-store' });
    failing = true;
    expectStale(await get(control), 'plain');
    expectNotFromCache(await get(path));
  });

  // RFC 9111 §4 and §5.2.1.4: a request's no-cache is never answered from a stored copy.
  it("§5.2.1.4: does not answer a request's no-cache from a copy", async () => {
    const path = freshPath('reload');
    await get(path);
    failing = true;
    expectNotFromCache(await get(path, { 'cache-control': 'no-cache' }));
    expectStale(await get(path), 'plain');
  });

  // RFC 9111 §4.2.3: age is the upstream's Age plus the time the copy was kept, never less.
  it("§4.2.3: adds the upstream's Age to the time kept", async () => {
    const path = freshPath('aged');
    answer = () => ({ body: 'aged', headers: { age: '100' } });
    await get(path);
    failing = true;
    const stale = await get(path);
    expectStale(stale, 'aged');
    const age = Number(stale.headers.age);
    expect(age).toBeGreaterThanOrEqual(100);
    // Generous: the copy was kept for well under a second, even on a busy machine.
    expect(age).toBeLessThan(130);
  });

  // A MAY of §4.4, and its MUST NOT: only URIs of the target's own origin are forgotten.
  it('§4.4: forgets the copies its location and content-location name, of the same origin only', async () => {
    // Written whole, with a character WHATWG URL would escape: matched as sent, as keys are.
    const named = `${freshPath('located')}?who=it's`;
    const contentNamed = freshPath('content-located');
    const elsewhere = freshPath('other-origin');
    const target = freshPath('posted');
    answer = (req) =>
      req.method === 'POST'
        ? {
            body: 'created',
            headers: {
              location: `http://${req.headers.host}${named}`,
              'content-location': contentNamed.replace('/api/', '../'),
            },
          }
        : { body: `GET ${req.url}` };
    // Sent as written: a client built on WHATWG URL would send `%27`, another target.
    const rawStatus = async (path: string) => {
      const { host, port } = new URL(gw.publicUrl);
      const head = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`;
      return (await rawRequest(Number(port), head)).text.split(' ')[1];
    };
    expect(await rawStatus(named)).toBe('200');
    for (const path of [contentNamed, elsewhere]) await get(path);
    expect((await fetchText(`${gw.publicUrl}${target}`, { method: 'POST', body: 'x' })).status).toBe(200);
    answer = () => ({ body: 'created', headers: { location: `http://other.example${elsewhere}` } });
    expect((await fetchText(`${gw.publicUrl}${target}`, { method: 'POST', body: 'x' })).status).toBe(200);
    failing = true;
    expect(await rawStatus(named)).toBe('500');
    expectNotFromCache(await get(contentNamed));
    expectStale(await get(elsewhere), `GET ${elsewhere}`);
  });

  // RFC 9111 §4.1: the varied header must be matched on what shaped the answer. Node keeps the first
  // of two user-agent lines while the upstream gets both: an origin that reads the last one must not
  // have its answer kept under the first, for every client that sends only that.
  it('§4.1: keeps no copy that varies on a header a request sent on two lines', async () => {
    const path = freshPath('two-agents');
    const control = freshPath('one-agent');
    answer = (req) => {
      let last = '';
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'user-agent') last = raw[i + 1]!;
      return { body: `page for ${last}`, headers: { vary: 'user-agent' } };
    };
    const { host, port } = new URL(gw.publicUrl);
    const head = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nuser-agent: Safari\r\nuser-agent: <script>\r\nconnection: close\r\n\r\n`;
    expect((await rawRequest(Number(port), head)).text).toContain('page for <script>');
    await get(control, { 'user-agent': 'Safari' });
    failing = true;
    expectStale(await get(control, { 'user-agent': 'Safari' }), 'page for Safari');
    expectNotFromCache(await get(path, { 'user-agent': 'Safari' }));
  });

  // RFC 9111 §4.3.2: a client revalidating what it holds gets 304 from the copy, not the body again.
  it('§4.3.2: answers a conditional GET for the copy the client holds with 304', async () => {
    const path = freshPath('validated');
    answer = () => ({ body: 'tagged', headers: { etag: '"t1"' } });
    await get(path);
    failing = true;
    const held = await get(path, { 'if-none-match': '"t1"' });
    expect(held.status).toBe(304);
    expect(held.body).toBe('');
    expect(held.headers.etag).toBe('"t1"');
    expect(held.headers['x-floodgate-cache']).toBe('stale');
    expectStale(await get(path, { 'if-none-match': '"t0"' }), 'tagged');
  });

  // RFC 9111 §4.4: a cache MUST invalidate the target URI after a non-error answer to an unsafe
  // request. An unsafe request that failed changes nothing, so its copy is still served.
  it('§4.4: forgets a copy once an unsafe request to its target succeeds', async () => {
    const control = freshPath('failed-post');
    const changed = freshPath('deleted');
    answer = (req) => ({ body: `${req.method} ${req.url}` });
    await get(control);
    await get(changed);
    expect((await fetchText(`${gw.publicUrl}${changed}`, { method: 'DELETE' })).status).toBe(200);
    failing = true;
    expect((await fetchText(`${gw.publicUrl}${control}`, { method: 'POST', body: 'x' })).status).toBe(500);
    expectStale(await get(control), `GET ${control}`);
    expectNotFromCache(await get(changed));
  });
});
