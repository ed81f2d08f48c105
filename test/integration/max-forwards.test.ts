import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText, rawRequest } from '../support/http-client.js';
import { oneRegion, startTestGateway, type TestGateway } from '../support/test-gateway.js';

// RFC 9110 §7.6.2: TRACE and OPTIONS go one hop less far each time, and stop where the count is 0.
describe('max-forwards', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFaultUpstream();
    gw = await startTestGateway(oneRegion([upstream.url]));
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const lineFor = (id: string) => gw.logs.findLast((l) => l.requestId === id);

  it('answers OPTIONS with max-forwards 0 itself', async () => {
    const before = upstream.requests.length;
    const res = await fetchText(`${gw.publicUrl}/any`, {
      method: 'OPTIONS',
      headers: { 'max-forwards': '0', 'x-request-id': 'options-0' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['x-request-id']).toBe('options-0');
    expect(upstream.requests.length).toBe(before);
    await expect.poll(() => lineFor('options-0')).toMatchObject({ outcome: 'local', status: 200, bytes: 0 });
  });

  it('reflects TRACE with max-forwards 0, leaving out credentials and cookies', async () => {
    const before = upstream.requests.length;
    const res = await fetchText(`${gw.publicUrl}/trace/me?q=1`, {
      method: 'TRACE',
      headers: { 'max-forwards': '0', authorization: 'Bearer secret', cookie: 'a=b', 'x-kept': 'yes' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('message/http');
    expect(res.body.startsWith('TRACE /trace/me?q=1 HTTP/1.1\r\n')).toBe(true);
    expect(res.body).toContain('x-kept: yes\r\n');
    expect(res.body).toContain('max-forwards: 0\r\n');
    expect(res.body).not.toContain('secret');
    expect(res.body).not.toMatch(/cookie/i);
    expect(res.body.endsWith('\r\n\r\n')).toBe(true);
    expect(upstream.requests.length).toBe(before);
  });

  it.each(['OPTIONS', 'TRACE'])('passes %s on with max-forwards one lower', async (method) => {
    await fetchText(`${gw.publicUrl}/on`, { method, headers: { 'max-forwards': '5' } });
    const sent = upstream.requests.at(-1)!;
    expect(sent.method).toBe(method);
    expect(sent.headers['max-forwards']).toBe('4');
  });

  // RFC 9112 §3.2.4: `OPTIONS *` is a valid request about the server, which to its client the
  // gateway is; undici cannot send `*`, so it answers whatever the hop count, and never with 400.
  it.each(['Max-Forwards: 0\r\n', 'Max-Forwards: 3\r\n', ''])(
    'answers OPTIONS * itself with 200 and allow (%j)',
    async (hops) => {
      const port = Number(new URL(gw.publicUrl).port);
      const before = upstream.requests.length;
      const id = `options-star-${hops.length}`;
      const answer = await rawRequest(
        port,
        `OPTIONS * HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\n${hops}Connection: close\r\n\r\n`,
      );
      expect(answer.text).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer.text).toMatch(/\r\nallow: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE\r\n/);
      expect(answer.text).toMatch(/\r\ncontent-length: 0\r\n/);
      expect(answer.text).toMatch(/\r\nx-floodgate-region: us-east\r\n/);
      expect(upstream.requests.length).toBe(before);
      await expect.poll(() => lineFor(id)).toMatchObject({ outcome: 'local', status: 200, path: '*' });
    },
  );

  // The absolute form of `OPTIONS *`: an empty path and no query, which the last proxy must send
  // on as `*` (RFC 9112 §3.2.4). With a path or a query it asks about a resource, and goes upstream.
  it.each([
    ['http://gw', 'local'],
    ['http://gw/', 'forwarded'],
    ['http://gw?x=1', 'forwarded'],
  ])('answers OPTIONS %s as OPTIONS * only when it has no path or query', async (target, outcome) => {
    const port = Number(new URL(gw.publicUrl).port);
    const before = upstream.requests.length;
    const id = `options-absolute-${target.length}`;
    const answer = await rawRequest(
      port,
      `OPTIONS ${target} HTTP/1.1\r\nHost: gw\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200 /);
    await expect.poll(() => lineFor(id)).toMatchObject({ outcome });
    expect(upstream.requests.length).toBe(outcome === 'local' ? before : before + 1);
    if (outcome === 'local') expect(answer.text).toMatch(/\r\nallow: /);
  });

  it('caps a hop count longer than it can count exactly', async () => {
    await fetchText(`${gw.publicUrl}/far`, {
      method: 'OPTIONS',
      headers: { 'max-forwards': '12345678901234567890' },
    });
    expect(upstream.requests.at(-1)!.headers['max-forwards']).toBe('999999999999999');
  });

  it('leaves max-forwards alone on other methods and when it is no number', async () => {
    const get = await fetchText(`${gw.publicUrl}/get`, { headers: { 'max-forwards': '0' } });
    expect(get.status).toBe(200);
    expect(upstream.requests.at(-1)!.headers['max-forwards']).toBe('0');
    await fetchText(`${gw.publicUrl}/odd`, { method: 'OPTIONS', headers: { 'max-forwards': 'x1' } });
    expect(upstream.requests.at(-1)!.headers['max-forwards']).toBe('x1');
  });
});
