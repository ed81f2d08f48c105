import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultMode, type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText, rawRequest, sha256 } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const FIVE_MIB = 5 * 1024 * 1024;
const download = randomBytes(FIVE_MIB);

describe('forwarding', () => {
  let east: FaultUpstream;
  let west: FaultUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    east = await startFaultUpstream((req): FaultMode => {
      if (req.url === '/download') {
        return { kind: 'ok', body: download, headers: { 'content-type': 'application/octet-stream' } };
      }
      if (req.url === '/hop') {
        const headers = {
          connection: 'keep-alive, x-private',
          'x-private': 'secret',
          'keep-alive': 'timeout=99',
          'x-floodgate-cache': 'forged',
          'x-kept': 'yes',
        };
        return { kind: 'ok', body: 'hop', headers };
      }
      if (req.url === '/redirect') {
        return { kind: 'ok', status: 302, body: '', headers: { location: 'http://elsewhere.example/' } };
      }
      return { kind: 'ok', headers: { 'x-upstream': 'east' } };
    });
    west = await startFaultUpstream({ kind: 'ok', body: 'west', headers: { 'x-upstream': 'west' } });
    gw = await startTestGateway({
      regions: {
        'us-east': { upstreams: [east.url], capacity: { rps: 10_000 } },
        'us-west': { upstreams: [west.url], capacity: { rps: 10_000 } },
      },
      routing: { default: 'us-east', header: 'x-region' },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await east?.close();
    await west?.close();
  });

  // The routing header picks the home region; a missing or unknown one falls back to the default.
  it.each([
    [{ 'x-region': 'us-west' }, 'us-west', 'west'],
    [{ 'x-region': 'mars' }, 'us-east', 'east'],
    [{}, 'us-east', 'east'],
  ])('routes %j to %s', async (headers, region, upstream) => {
    const res = await fetchText(`${gw.publicUrl}/api/x`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers['x-floodgate-region']).toBe(region);
    expect(res.headers['x-upstream']).toBe(upstream);
  });

  // Method, path, query and end-to-end headers arrive unchanged; hop-by-hop and forged headers do not.
  it('forwards the request faithfully and sets x-forwarded-*', async () => {
    const before = east.requests.length;
    const port = Number(new URL(gw.publicUrl).port);
    const answer = await rawRequest(
      port,
      'PATCH /api/items?q=1&r=%2F HTTP/1.1\r\nHost: app.example\r\nX-Api-Key: k1\r\nConnection: close, X-Hop\r\n' +
        'X-Hop: drop me\r\nTE: trailers\r\nX-Floodgate-Region: forged\r\nX-Forwarded-For: 6.6.6.6\r\n' +
        'X-Forwarded-Host: forged.example\r\nContent-Length: 5\r\n\r\nhello',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    const seen = east.requests[before]!;
    expect(seen.method).toBe('PATCH');
    expect(seen.url).toBe('/api/items?q=1&r=%2F');
    expect(seen.headers['x-api-key']).toBe('k1');
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-floodgate-region']).toBeUndefined();
    expect(seen.headers.host).toBe('app.example');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('app.example');
    expect(seen.bodyBytes).toBe(5);
  });

  // Hop-by-hop headers and forged x-floodgate-* headers from the upstream never reach the client.
  it('strips hop-by-hop headers from responses', async () => {
    const res = await fetchText(`${gw.publicUrl}/hop`);
    expect(res.headers['x-kept']).toBe('yes');
    expect(res.headers['x-private']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=99');
    expect(res.headers['x-floodgate-cache']).toBeUndefined();
  });

  // 5 MiB stream both ways with matching hashes.
  it('streams large bodies both ways intact', async () => {
    const upload = randomBytes(FIVE_MIB);
    const before = east.requests.length;
    const up = await fetchText(`${gw.publicUrl}/upload`, { method: 'POST', body: upload });
    expect(up.status).toBe(200);
    expect(east.requests[before]!.bodySha256).toBe(sha256(upload));
    const res = await request(`${gw.publicUrl}/download`);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.length).toBe(FIVE_MIB);
    expect(sha256(body)).toBe(sha256(download));
  });

  // A chunked body whose bytes arrive together with the headers reaches the upstream whole.
  it('forwards a chunked body sent in the same packet as the headers', async () => {
    const before = east.requests.length;
    const port = Number(new URL(gw.publicUrl).port);
    const answer = await rawRequest(
      port,
      'POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    expect(east.requests[before]!.bodyBytes).toBe(5);
    expect(east.requests[before]!.bodySha256).toBe(sha256('hello'));
  });

  // A client that asks for 100-continue gets it from the gateway, and its body still arrives.
  it('handles expect: 100-continue uploads', async () => {
    const before = east.requests.length;
    const port = Number(new URL(gw.publicUrl).port);
    const { connect } = await import('node:net');
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.startsWith('HTTP/1.1 100') && !text.includes('200')) socket.write('hello');
    });
    socket.write(
      'POST /continue HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    await new Promise((resolve) => socket.on('close', resolve));
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(text).toContain('HTTP/1.1 200 OK');
    expect(east.requests[before]!.bodyBytes).toBe(5);
    expect(east.requests[before]!.headers.expect).toBeUndefined();
  });

  // Redirects are passed through, never followed.
  it('passes redirects through', async () => {
    const res = await fetchText(`${gw.publicUrl}/redirect`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://elsewhere.example/');
  });

  // An absolute-form target cannot redirect the request to another origin.
  it('keeps the configured origin for absolute-form targets', async () => {
    const before = east.requests.length;
    const port = Number(new URL(gw.publicUrl).port);
    const answer = await rawRequest(
      port,
      'GET http://evil.example/steal?x=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    expect(east.requests[before]!.url).toBe('/steal?x=1');
  });

  // RFC 9112 §3.2.2: with an absolute-form target the received Host is ignored; the Host sent on
  // (and x-forwarded-host) is the target's. A target whose host is not valid is refused unsent.
  it("sends an absolute-form target's own host as Host", async () => {
    const port = Number(new URL(gw.publicUrl).port);
    const before = east.requests.length;
    const answer = await rawRequest(
      port,
      'GET http://a.example:8080/p?q=1 HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    const seen = east.requests[before]!;
    expect(seen.url).toBe('/p?q=1');
    expect(seen.rawHeaders.filter((name) => name.toLowerCase() === 'host')).toHaveLength(1);
    expect(seen.headers.host).toBe('a.example:8080');
    expect(seen.headers['x-forwarded-host']).toBe('a.example:8080');
    const bad = await rawRequest(
      port,
      'GET http://a.example,b.example/p HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n',
    );
    expect(bad.text).toMatch(/^HTTP\/1\.1 400/);
    expect(east.requests.length).toBe(before + 1);
  });

  // Every forwarded request is logged once with the contract's access fields.
  it('writes one access line per request', async () => {
    await fetchText(`${gw.publicUrl}/logged`, { headers: { 'x-region': 'us-west' } });
    const line = gw.logs.findLast((l) => l.path === '/logged');
    expect(line).toMatchObject({ region: 'us-west', status: 200, outcome: 'forwarded', priority: 'normal' });
    expect(typeof line!.durationMs).toBe('number');
  });
});
