import { mkdtemp, rm } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { http2Request, http2Session } from '../support/http2-client.js';
import { converse, statusOf } from '../support/raw-socket.js';
import { oneRegion, startTestGateway, type TestGateway } from '../support/test-gateway.js';

// CONNECT (RFC 9110 §9.3.6: a gateway that does not tunnel refuses it) gets 501 on both protocols,
// routed and logged like the gateway's other refusals; a fragment (RFC 9112 §3.2 has none in a
// request-target) and OPTIONS * over HTTP/2 behave as over HTTP/1.1 (hostile-requests, max-forwards).

const CONNECT = 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n';
const BODY_501 = '{"error":"method not implemented","region":"us-east"}';

/** The current value of floodgate_bad_requests_total{reason="method"}. */
async function methodRefusals(gw: TestGateway): Promise<number> {
  const text = await gw.metrics.text();
  return Number(/^floodgate_bad_requests_total\{reason="method"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** The access line of a CONNECT to evil.example:443 refused 501, once it is written. */
async function expectRefusalLogged(gw: TestGateway, requestId: string): Promise<void> {
  await expect
    .poll(() => gw.logs.find((l) => l.requestId === requestId), { timeout: 3000 })
    .toMatchObject({
      status: 501,
      outcome: 'error',
      reason: 'method-not-implemented',
      method: 'CONNECT',
      path: 'evil.example:443',
      region: 'us-east',
    });
}

describe('CONNECT over HTTP/1.1', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startFaultUpstream((req) =>
      req.url === '/slow' ? { kind: 'delay', ms: 300 } : { kind: 'ok' },
    );
    gw = await startTestGateway(oneRegion([upstream.url]));
    port = Number(new URL(gw.publicUrl).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('answers 501 with the region and request id, closes, logs and counts it', async () => {
    const counted = await methodRefusals(gw);
    const answer = await converse(port, [`${CONNECT}X-Request-Id: connect-1\r\n\r\ntunnel bytes`]);
    expect(statusOf(answer.text)).toBe(501);
    expect(answer.text).toMatch(/\r\nconnection: close\r\n/);
    expect(answer.text).toMatch(/\r\nx-floodgate-region: us-east\r\n/);
    expect(answer.text).toMatch(/\r\nx-request-id: connect-1\r\n/);
    expect(answer.text.endsWith(`\r\n\r\n${BODY_501}`)).toBe(true);
    expect(answer.ended).toBe('closed');
    expect(upstream.requests).toEqual([]);
    expect(await methodRefusals(gw)).toBe(counted + 1);
    await expectRefusalLogged(gw, 'connect-1');
  });

  // The socket is handed over while the earlier answer is still on its way; the 501 must follow it.
  it('answers a CONNECT pipelined behind a slow request after that answer', async () => {
    const get = 'GET /slow HTTP/1.1\r\nHost: app.example\r\n\r\n';
    const answer = await converse(port, [`${get}${CONNECT}\r\n`]);
    expect(statusOf(answer.text)).toBe(200);
    const second = answer.text.indexOf('HTTP/1.1 501 ');
    expect(second).toBeGreaterThan(answer.text.indexOf('"path":"/slow"'));
    expect(answer.ended).toBe('closed');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/slow']);
  });
});

describe.runIf(opensslAvailable())('request targets on the TLS port (HTTP/2 and HTTP/1.1)', () => {
  let certs: TestCertificates;
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let session: ClientHttp2Session;
  let port: number;

  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-targets-')));
    upstream = await startFaultUpstream();
    gw = await startTestGateway(
      oneRegion([upstream.url], { listen: { tls: { cert: certs.certPath, key: certs.keyPath } } }),
    );
    port = Number(new URL(gw.publicUrl).port);
    session = await http2Session(gw.publicUrl, certs.ca);
  });

  afterAll(async () => {
    session?.close();
    await gw?.close();
    await upstream?.close();
    if (certs) await rm(certs.dir, { recursive: true, force: true });
  });

  // Node's http2 server answered a bare 405 when the server had no `connect` listener.
  it('answers an HTTP/2 CONNECT stream 501 and keeps the session', async () => {
    const counted = await methodRefusals(gw);
    const res = await http2Request(session, {
      ':method': 'CONNECT',
      ':authority': 'evil.example:443',
      'x-request-id': 'h2-connect',
    });
    expect(res.status).toBe(501);
    expect(res.headers['x-floodgate-region']).toBe('us-east');
    expect(res.headers['x-request-id']).toBe('h2-connect');
    expect(res.body.toString()).toBe(BODY_501);
    expect(await methodRefusals(gw)).toBe(counted + 1);
    await expectRefusalLogged(gw, 'h2-connect');
    // A refused stream stands alone: the session carries the next request.
    const next = await http2Request(session, { ':path': '/after', ':authority': 'app.example' });
    expect(next.status).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/after']);
  });

  it('answers an HTTP/1.1 CONNECT over TLS 501', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect(
        { port, host: '127.0.0.1', servername: 'localhost', ca: certs.ca, ALPNProtocols: ['http/1.1'] },
        () => socket.write(`${CONNECT}\r\n`),
      );
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    });
    expect(statusOf(text)).toBe(501);
    expect(text.endsWith(BODY_501)).toBe(true);
  });

  it('refuses a fragment in an HTTP/2 :path with 400, sending nothing upstream', async () => {
    const before = upstream.requests.length;
    const res = await http2Request(session, { ':path': '/a#frag', ':authority': 'app.example' });
    expect(res.status).toBe(400);
    expect(upstream.requests.length).toBe(before);
  });

  it('answers an HTTP/2 OPTIONS * itself with 200 and allow', async () => {
    const before = upstream.requests.length;
    const res = await http2Request(session, {
      ':method': 'OPTIONS',
      ':path': '*',
      ':authority': 'app.example',
      'max-forwards': '5',
    });
    expect(res.status).toBe(200);
    expect(res.headers.allow).toBe('GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE');
    expect(upstream.requests.length).toBe(before);
  });
});
