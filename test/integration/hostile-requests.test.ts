import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import {
  DEADLINE_SLACK_MS,
  get,
  H,
  HEADERS_TIMEOUT_MS,
  handshake,
  MAX_BODY_BYTES,
  MAX_HEADER_BYTES,
  post,
  REFUSED,
  REQUEST_TIMEOUT_MS,
} from '../support/hostile-payloads.js';
import { converse, HTTP_DATE_FIELD, statusOf } from '../support/raw-socket.js';
import { oneRegion, startTestGateway, type TestGateway } from '../support/test-gateway.js';

/** Targets forwarded byte for byte to the configured upstream: [client target, target the upstream must see]. */
const TARGETS: [string, string][] = [
  ['/a/../../etc/passwd', '/a/../../etc/passwd'],
  ['/a/%2e%2e/%2E%2E/b', '/a/%2e%2e/%2E%2E/b'],
  ['/a/.%2e/b', '/a/.%2e/b'],
  ['//double//slashes//', '//double//slashes//'],
  ['/a%2fb%2F..%2f', '/a%2fb%2F..%2f'],
  ['/a\\..\\b', '/a\\..\\b'],
  ['/%5c%5cevil.example/x', '/%5c%5cevil.example/x'],
  ['//evil.example/x?y=1', '//evil.example/x?y=1'],
  ['http://evil.example/x?y=1', '/x?y=1'],
  ['HTTPS://evil.example:8443', '/'],
  ['http://evil.example//other.example/x', '//other.example/x'],
];

/** The Host the upstream gets: the client's, or an absolute-form target's own (RFC 9112 §3.2.2). */
const hostFor = (target: string) => /^https?:\/\/([^/?#]*)/i.exec(target)?.[1] ?? 'app.example';

describe('hostile requests over a raw socket', () => {
  let upstream: FaultUpstream;
  let guarded: FaultUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startFaultUpstream((req) =>
      req.url?.startsWith('/echo')
        ? { kind: 'echo' }
        : req.url?.startsWith('/trickle')
          ? { kind: 'trickle', chunks: 6, intervalMs: 100 }
          : req.url?.startsWith('/slow')
            ? { kind: 'delay', ms: 400 }
            : { kind: 'ok' },
    );
    guarded = await startFaultUpstream();
    gw = await startTestGateway({
      ...oneRegion([upstream.url]),
      listen: {
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        maxHeaderBytes: MAX_HEADER_BYTES,
        maxBodyBytes: MAX_BODY_BYTES,
      },
      regions: {
        // The upstream timeout is longer than the request timeout, so a slow client body meets the gateway's deadline first.
        'us-east': {
          upstreams: [upstream.url],
          capacity: { rps: 10_000, burst: 10_000 },
          timeoutMs: 5000,
          breaker: { volumeThreshold: 100_000 },
        },
        guarded: {
          upstreams: [guarded.url],
          capacity: { rps: 10_000, burst: 10_000 },
          breaker: { volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
        },
      },
    });
    port = Number(new URL(gw.publicUrl).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await guarded?.close();
  });

  /** The current value of floodgate_bad_requests_total for one reason. */
  async function badRequests(reason: string): Promise<number> {
    const text = await gw.metrics.text();
    const line = new RegExp(`^floodgate_bad_requests_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    expect(line, `floodgate_bad_requests_total{reason="${reason}"} is exported`).not.toBeNull();
    return Number(line![1]);
  }

  // Each malformed, oversized or smuggling-shaped request gets its exact status, never reaches the upstream, and is counted.
  // Whichever part of the gateway answers, the answer is dated (RFC 9110 §6.6.1).
  it.each(REFUSED)('refuses %s', async (_name, payload, status, reason) => {
    const before = upstream.requests.length;
    const counted = await badRequests(reason);
    const answer = await converse(port, [payload]);
    expect(statusOf(answer.text)).toBe(status);
    expect(answer.text.split('\r\n\r\n')[0]).toMatch(HTTP_DATE_FIELD);
    expect(answer.ended).toBe('closed');
    expect(upstream.requests.length).toBe(before);
    expect(await badRequests(reason)).toBe(counted + 1);
  });

  // A refusal by the gateway's checks is routed: it names the region and the request id, and an access line records it.
  it('answers a bad Host with the region, the request id and an access line', async () => {
    const answer = await converse(port, ['GET /bad-host HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n']);
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.text).toMatch(/\r\nx-floodgate-region: us-east\r\n/);
    expect(answer.text).toMatch(/\r\nx-request-id: [!-~]{1,128}\r\n/);
    expect(answer.text).toMatch(/\r\n\r\n\{"error":"bad host","region":"us-east"\}$/);
    await expect
      .poll(() => gw.logs.find((l) => l.path === '/bad-host'), { timeout: 3000 })
      .toMatchObject({ status: 400, outcome: 'error', region: 'us-east' });
  });

  // A parser refusal has no region; it gets one event line with its reason and llhttp's code.
  it('logs each parser refusal once', async () => {
    const before = gw.logs.filter((l) => l.event === 'bad-request').length;
    const answer = await converse(port, ['FOO /a HTTP/1.1\r\nHost: a\r\n\r\n']);
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer.text).not.toMatch(/x-floodgate-region/);
    await expect
      .poll(() => gw.logs.filter((l) => l.event === 'bad-request').length, { timeout: 3000 })
      .toBe(before + 1);
    expect(gw.logs.filter((l) => l.event === 'bad-request').at(-1)).toMatchObject({
      reason: 'method',
      status: 400,
      code: 'HPE_INVALID_METHOD',
      client: '127.0.0.1',
    });
  });

  // RFC 9112 §3.2: Host is end-to-end; naming it in connection must not make the upstream lose it.
  it('keeps Host when connection names it', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [get('/conn-host', 'Connection: host\r\n')]);
    expect(statusOf(answer.text)).toBe(200);
    const seen = upstream.requests[before]!;
    expect(seen.headers.host).toBe('app.example');
    expect(seen.headers['x-forwarded-host']).toBe('app.example');
  });

  // A backend that maps `_` to `-` must not see a second framing: underscore names are dropped, as nginx does.
  it('drops header names with an underscore', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [
      'POST /echo HTTP/1.1\r\nHost: a\r\ntransfer_encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\n' +
        'Content-Length: 3\r\nConnection: close\r\n\r\nabc',
    ]);
    expect(statusOf(answer.text)).toBe(200);
    const seen = upstream.requests[before]!;
    expect(seen.rawHeaders.filter((name, i) => i % 2 === 0 && name.includes('_'))).toEqual([]);
    expect(seen.bodyBytes).toBe(3);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  // Headers a client names in connection stay off the upgrade request too; Host and the handshake headers go through.
  it('strips connection-named headers from a WebSocket handshake', async () => {
    const before = upstream.requests.length;
    // The test upstream has no upgrade listener, so it answers the handshake as a plain request.
    const answer = await converse(port, [
      handshake('Host: app.example\r\n', 'Upgrade, X-Secret, host', 'X-Secret: s\r\nx_secret: u\r\n'),
    ]);
    expect(statusOf(answer.text)).toBe(200);
    const seen = upstream.requests[before]!;
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers.x_secret).toBeUndefined();
    expect(seen.headers.host).toBe('app.example');
    expect(seen.headers.upgrade).toBe('websocket');
    expect(seen.headers['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
  });

  // An error body never echoes what the client sent.
  it('never echoes client input in an error body', async () => {
    const answer = await converse(port, [get('/a', 'X-Echo-Me: <script>marker</script>\r\nX-A : b\r\n')]);
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.text).not.toContain('marker');
  });

  // The gateway is no tunnel (RFC 9110 §9.3.6): CONNECT is refused; request-targets.test.ts has the details.
  it('refuses an authority-form CONNECT with 501 without forwarding it', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
    ]);
    expect(statusOf(answer.text)).toBe(501);
    expect(answer.ended).toBe('closed');
    expect(upstream.requests.length).toBe(before);
  });

  // Paths are forwarded verbatim to the configured origin; the gateway never resolves them into another origin.
  it.each(TARGETS)('forwards %j to the configured upstream as %j', async (target, expected) => {
    const before = upstream.requests.length;
    const answer = await converse(port, [get(target)]);
    expect(statusOf(answer.text)).toBe(200);
    expect(upstream.requests.length).toBe(before + 1);
    expect(upstream.requests[before]!.url).toBe(expected);
    expect(upstream.requests[before]!.headers.host).toBe(hostFor(target));
  });

  // RFC 9110 §4.2.4: userinfo in an http(s) URI is to be treated as an error, and is no valid Host.
  it('refuses an absolute-form target with userinfo', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [get('http://user@evil.example/x')]);
    expect(statusOf(answer.text)).toBe(400);
    expect(upstream.requests.length).toBe(before);
  });

  // Client-sent x-floodgate-* headers are dropped and x-forwarded-for is the peer, not what the client claimed.
  it('strips gateway-owned headers a client sends', async () => {
    const before = upstream.requests.length;
    const forged =
      'X-Floodgate-Region: forged\r\nx-floodgate-shed: rate\r\nX-FLOODGATE-FAILOVER-FROM: x\r\nX-Forwarded-For: 6.6.6.6\r\n';
    expect(statusOf((await converse(port, [get('/forged', forged)])).text)).toBe(200);
    const seen = upstream.requests[before]!;
    expect(seen.rawHeaders.filter((name, i) => i % 2 === 0 && /^x-floodgate-/i.test(name))).toEqual([]);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  // Headers trickled on a fresh connection are cut off about a second after headersTimeoutMs.
  it('disconnects slow headers on a fresh connection, and counts it', async () => {
    const counted = await badRequests('headers-timeout');
    const answer = await converse(port, ['GET /a HTTP/1.1\r\n', { waitMs: 100 }, H]);
    expect(await badRequests('headers-timeout')).toBe(counted + 1);
    expect(answer.ended).toBe('closed');
    expect([0, 408]).toContain(statusOf(answer.text));
    expect(answer.sinceLastWriteMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 200);
    expect(answer.sinceLastWriteMs).toBeLessThan(HEADERS_TIMEOUT_MS + DEADLINE_SLACK_MS);
  });

  // The same deadline holds for the second request on a kept-alive connection.
  it('disconnects slow headers on a reused keep-alive connection', async () => {
    const first = `GET /first HTTP/1.1\r\n${H}\r\n`;
    const answer = await converse(port, [
      first,
      { waitFor: /"path":"\/first"\}$/ },
      'GET /second HTTP/1.1\r\n',
      H,
    ]);
    expect(statusOf(answer.text)).toBe(200);
    expect(answer.ended).toBe('closed');
    expect(answer.sinceLastWriteMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 200);
    expect(answer.sinceLastWriteMs).toBeLessThan(HEADERS_TIMEOUT_MS + DEADLINE_SLACK_MS);
    expect(upstream.requests.some((r) => r.url === '/second')).toBe(false);
  });

  // A body that does not arrive within requestTimeoutMs ends the exchange; the upstream never gets a complete request.
  it('ends a slow body at requestTimeoutMs, and counts it', async () => {
    const before = upstream.requests.length;
    const counted = await badRequests('request-timeout');
    const answer = await converse(
      port,
      ['POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab'],
      8000,
    );
    expect(answer.ended).toBe('closed');
    expect([0, 408]).toContain(statusOf(answer.text));
    expect(answer.sinceLastWriteMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(answer.sinceLastWriteMs).toBeLessThan(REQUEST_TIMEOUT_MS + DEADLINE_SLACK_MS);
    expect(upstream.requests.slice(before).every((r) => r.bodySha256 === '')).toBe(true);
    expect(await badRequests('request-timeout')).toBe(counted + 1);
    await expect.poll(() => gw.view.regions()['us-east']!.inflight, { timeout: 5000 }).toBe(0);
    // The access line says what was sent, not that the client left.
    const line = gw.logs.find((l) => l.path === '/slow-body');
    const sent = statusOf(answer.text) === 408;
    expect(line).toMatchObject(sent ? { status: 408, reason: 'request-timeout' } : { status: 499 });
  });

  // Once a response is streaming, a request timeout must not splice a raw 408 into its body: the connection is cut instead.
  it('never writes a 408 into a response that has started', async () => {
    const answer = await converse(
      port,
      ['POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab'],
      8000,
    );
    expect(statusOf(answer.text)).toBe(200);
    expect(answer.ended).toBe('closed');
    expect(answer.text.indexOf('HTTP/1.1', 1)).toBe(-1);
  });

  // Garbage pipelined behind a request whose answer is still streaming must not be answered inside that answer's body.
  it('never splices a 400 into a streaming response', async () => {
    const answer = await converse(
      port,
      [`GET /trickle HTTP/1.1\r\n${H}\r\n`, { waitFor: /chunk-0/ }, 'GARBAGE\r\n\r\n'],
      8000,
    );
    expect(statusOf(answer.text)).toBe(200);
    // Refused after it, once it has ended (RFC 9112 §9.3).
    const second = answer.text.indexOf('HTTP/1.1', 1);
    expect(answer.text.slice(0, second)).toMatch(/\r\n0\r\n\r\n$/);
    expect(statusOf(answer.text.slice(second))).toBe(400);
  });

  // RFC 9112 §9.3: answers go in the order of the requests. A malformed request pipelined behind one
  // still waiting on its upstream is refused after that answer, never in its place: the client
  // would be told that a POST the upstream carried out was refused.
  it('refuses a malformed request pipelined behind a pending one after its answer', async () => {
    const malformed = async () =>
      Number(
        /^floodgate_bad_requests_total\{reason="malformed"\} (\d+)$/m.exec(await gw.metrics.text())?.[1],
      );
    const before = await malformed();
    const answer = await converse(
      port,
      [
        `POST /slow-order HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`,
        { waitMs: 100 },
        `GET /next HTTP/1.1\r\n${H}X-A: b\r\n folded\r\n\r\n`,
        // More bytes while the refusal waits: one request refused, counted once.
        { waitMs: 50 },
        'junk\r\n',
        { waitMs: 50 },
        'junk\r\n',
      ],
      8000,
    );
    expect(await malformed()).toBe(before + 1);
    expect(statusOf(answer.text)).toBe(200);
    const second = answer.text.indexOf('HTTP/1.1 ', 1);
    expect(statusOf(answer.text.slice(second))).toBe(400);
    expect(answer.ended).toBe('closed');
    expect(upstream.requests.some((r) => r.url === '/slow-order' && r.bodyBytes === 3)).toBe(true);
  });

  // RFC 9112 §3.2: more than one Host is a 400; undici refuses to send it, which must not count against the upstream.
  it('refuses a duplicate Host header with 400 and leaves the breaker alone', async () => {
    const before = guarded.requests.length;
    const twoHosts =
      'GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Region: guarded\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 8; i++) expect(statusOf((await converse(port, [twoHosts])).text)).toBe(400);
    expect(guarded.requests.length).toBe(before);
    expect(gw.view.regions().guarded!.breaker).toBe('closed');
    expect(statusOf((await converse(port, [get('/after', 'X-Region: guarded\r\n')])).text)).toBe(200);
  });

  // `Expect: 100-continue` (curl's default for bodies over 1 KiB) is answered by the gateway and the body is forwarded.
  it('forwards a request that expects 100-continue', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [
      post('Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n'),
      { waitFor: /100 Continue/ },
      'hello',
    ]);
    expect(answer.text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(upstream.requests[before]?.bodyBytes).toBe(5);
  });

  // maxBodyBytes bounds chunked bodies too: a body that grows past it is never forwarded whole.
  it('does not forward a chunked body over maxBodyBytes', async () => {
    const before = upstream.requests.length;
    const big = 'x'.repeat(MAX_BODY_BYTES * 5);
    const answer = await converse(port, [
      post(
        'Transfer-Encoding: chunked\r\nConnection: close\r\n',
        `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      ),
    ]);
    expect([0, 413]).toContain(statusOf(answer.text));
    const whole = upstream.requests
      .slice(before)
      .filter((r) => r.bodySha256 !== '' && r.bodyBytes > MAX_BODY_BYTES);
    expect(whole).toEqual([]);
  });

  // A transfer coding the gateway does not decode (gzip before chunked) is refused (RFC 9112 §6.1: 501), not forwarded as if it were the body.
  it('refuses a transfer coding it does not implement', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [
      post('Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n', '0\r\n\r\n'),
    ]);
    expect(statusOf(answer.text)).toBe(501);
    expect(upstream.requests.length).toBe(before);
  });
});
