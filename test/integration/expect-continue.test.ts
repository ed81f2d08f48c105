import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { rawRequest, sha256 } from '../support/http-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

/** Sends a POST that expects 100-continue; the body goes only after a 100. Resolves with all the gateway wrote. */
function uploadExpectingContinue(port: number, region: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent && text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: app.example\r\nx-region: ${region}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    // The admitted upload is answered on a keep-alive connection: end it once the answer is whole.
    socket.on('data', () => {
      if (/\r\n\r\nuploaded$/.test(text)) socket.end();
    });
  });
}

describe('expect: 100-continue during a drain', () => {
  // The drain marks every answer `connection: close`, uploads that waited for their 100 included.
  it('closes the connection of an upload answered while draining', async () => {
    const upstream = await startFaultUpstream({ kind: 'ok', body: 'uploaded' });
    const gw = await startTestGateway({
      regions: { open: { upstreams: [upstream.url], capacity: { rps: 10_000 } } },
      routing: { default: 'open' },
      drainDelayMs: 3000,
    });
    try {
      const draining = gw.shutdown();
      const text = await uploadExpectingContinue(Number(new URL(gw.publicUrl).port), 'open', 'hello');
      expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      expect(text.toLowerCase()).toContain('connection: close');
      await draining;
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('expect: 100-continue and via', () => {
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startFaultUpstream({ kind: 'ok', body: 'uploaded' });
    gw = await startTestGateway({
      regions: {
        open: { upstreams: [upstream.url], capacity: { rps: 10_000 } },
        empty: { upstreams: [upstream.url], capacity: { rps: 1, burst: 1 } },
      },
      routing: { default: 'open', header: 'x-region' },
    });
    port = Number(new URL(gw.publicUrl).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  // The 100 goes out once the request is admitted, and the body reaches the upstream.
  it('sends 100 Continue to an admitted upload, then forwards its body', async () => {
    const before = upstream.requests.length;
    const text = await uploadExpectingContinue(port, 'open', 'hello');
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(upstream.requests.length).toBe(before + 1);
    expect(upstream.requests[before]!.bodySha256).toBe(sha256('hello'));
    expect(upstream.requests[before]!.headers.expect).toBeUndefined();
  });

  // A shed upload is refused before its client sends the body, and the connection is not reused:
  // the client may or may not send the body after the refusal.
  it('sheds an upload without asking for its body, and closes the connection', async () => {
    // The region's one token goes to this request; the upload after it finds the bucket empty.
    await rawRequest(port, 'GET / HTTP/1.1\r\nHost: a\r\nx-region: empty\r\nConnection: close\r\n\r\n');
    const before = upstream.requests.length;
    const text = await uploadExpectingContinue(port, 'empty', 'hello');
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).not.toContain('100 Continue');
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('x-floodgate-shed: rate');
    expect(upstream.requests.length).toBe(before);
  });

  // Any expectation but 100-continue is refused from the refusal table (with the region and the
  // request's id), counted, and never forwarded; 100-continue in another case is still one.
  it('refuses an expectation it cannot meet with 417, and counts it', async () => {
    const before = upstream.requests.length;
    const answer = await rawRequest(
      port,
      'GET /x HTTP/1.1\r\nHost: app.example\r\nExpect: something-else\r\nConnection: close\r\n\r\n',
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 417 /);
    expect(answer.text).toContain('x-floodgate-region: open');
    expect(answer.text).toMatch(/x-request-id: \S+/);
    expect(upstream.requests.length).toBe(before);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/floodgate_bad_requests_total\{reason="expectation"\} 1\b/);
  });

  // RFC 9110 §7.6.3: a gateway adds its own entry to each request it forwards, after the client's.
  it.each([
    ['1.1', '', '1.1 floodgate'],
    ['1.0', '', '1.0 floodgate'],
    ['1.1', 'Via: 1.1 edge.example\r\n', '1.1 edge.example, 1.1 floodgate'],
  ])('adds a via entry for HTTP/%s (client sent %j)', async (version, extra, via) => {
    const before = upstream.requests.length;
    const answer = await rawRequest(
      port,
      `GET /v HTTP/${version}\r\nHost: app.example\r\n${extra}Connection: close\r\n\r\n`,
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    const seen = upstream.requests[before]!.headers.via;
    expect([seen].flat().join(', ')).toBe(via);
  });
});
