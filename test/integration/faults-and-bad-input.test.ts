import { createServer } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText, rawRequest } from '../support/http-client.js';
import { oneRegion, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('upstream faults and hostile input', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startFaultUpstream((req) => {
      if (req.url === '/hang') return { kind: 'hang' };
      if (req.url === '/stall') return { kind: 'stall-mid-body', sendBytes: 100 };
      if (req.url === '/short') return { kind: 'short-body', declared: 1000, send: 100 };
      return { kind: 'ok' };
    });
    gw = await startTestGateway({
      ...oneRegion([upstream.url]),
      listen: { headersTimeoutMs: 500, requestTimeoutMs: 5000, maxHeaderBytes: 2048, maxBodyBytes: 1000 },
      regions: {
        'us-east': { upstreams: [upstream.url], capacity: { rps: 10_000 }, timeoutMs: 400 },
        dead: { upstreams: [`http://127.0.0.1:${await closedPort()}`], capacity: { rps: 10_000 } },
      },
    });
    port = Number(new URL(gw.publicUrl).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  // A refused connection is a 502 with a small JSON body naming the region.
  it('answers 502 when the upstream refuses the connection', async () => {
    const res = await fetchText(`${gw.publicUrl}/x`, { headers: { 'x-region': 'dead' } });
    expect(res.status).toBe(502);
    expect(res.headers['x-floodgate-region']).toBe('dead');
    expect(JSON.parse(res.body)).toEqual({ error: 'bad gateway', region: 'dead' });
  });

  // No response headers within timeoutMs is a 504.
  it('answers 504 when the upstream sends no headers in time', async () => {
    const res = await fetchText(`${gw.publicUrl}/hang`);
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body)).toEqual({ error: 'upstream timeout', region: 'us-east' });
  });

  // A stall mid-body destroys the client connection instead of ending the body as if complete.
  it('cuts the client off when the upstream stalls mid-body', async () => {
    const answer = await rawRequest(port, 'GET /stall HTTP/1.1\r\nHost: a\r\n\r\n', 5000);
    expect(answer.ended).toBe('closed');
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.text).not.toMatch(/\r\n0\r\n\r\n$/);
    expect(answer.text.split('\r\n\r\n')[1]!.length).toBeLessThan(1000);
  });

  // A body shorter than its content-length is never presented as complete.
  it('cuts the client off when the upstream body is short', async () => {
    await expect(request(`${gw.publicUrl}/short`).then((r) => r.body.text())).rejects.toThrow();
  });

  // A client that goes away aborts its upstream request and frees the in-flight slot.
  it('aborts the upstream request when the client disconnects', async () => {
    const abandonedBefore = upstream.abandoned;
    const controller = new AbortController();
    const pending = request(`${gw.publicUrl}/hang`, { signal: controller.signal }).catch(() => undefined);
    await until(() => gw.view.regions()['us-east']!.inflight === 1);
    controller.abort();
    await pending;
    await until(() => upstream.abandoned === abandonedBefore + 1);
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
  });

  // Conflicting content-length and transfer-encoding is refused by the parser and never forwarded.
  it('refuses request smuggling with 400', async () => {
    const before = upstream.requests.length;
    const answer = await rawRequest(
      port,
      'POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /evil HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 400/);
    expect(upstream.requests.length).toBe(before);
  });

  // Headers beyond maxHeaderBytes get 431.
  it('refuses oversized headers with 431', async () => {
    const before = upstream.requests.length;
    const answer = await rawRequest(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    expect(answer.text).toMatch(/^HTTP\/1\.1 431/);
    expect(upstream.requests.length).toBe(before);
  });

  // A declared body over maxBodyBytes is refused with 413 before any upstream connection.
  it('refuses a declared oversized body with 413', async () => {
    const before = upstream.requests.length;
    const answer = await rawRequest(port, 'POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n');
    expect(answer.text).toMatch(/^HTTP\/1\.1 413/);
    expect(answer.text).toContain('x-floodgate-region: us-east');
    expect(upstream.requests.length).toBe(before);
  });

  // A chunked body that grows past maxBodyBytes aborts the upstream request and gets 413.
  it('cuts off a chunked body over the limit with 413', async () => {
    const before = upstream.requests.length;
    const chunk = 'a'.repeat(600);
    const body = `258\r\n${chunk}\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`;
    const answer = await rawRequest(
      port,
      `POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 413/);
    // The upstream never received a complete request: every body it started was cut off.
    expect(upstream.requests.slice(before).every((r) => r.bodySha256 === '')).toBe(true);
    await until(() => gw.view.regions()['us-east']!.inflight === 0);
  });

  // A client that trickles its headers is disconnected within about a second after the deadline.
  it('disconnects slow-header clients soon after headersTimeoutMs', async () => {
    const answer = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: a\r\n', 5000);
    expect(answer.ended).toBe('closed');
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(450);
    // The deadline plus "about a second", with room for a busy 2-core machine.
    expect(answer.elapsedMs).toBeLessThan(500 + 1000 + 1500);
  });
});
