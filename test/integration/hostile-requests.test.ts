import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { oneRegion, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1500;
const MAX_HEADER_BYTES = 2048;
const MAX_BODY_BYTES = 1000;
// The contract's "about a second" after a deadline, plus room for a busy CI machine.
const DEADLINE_SLACK_MS = 1000 + 750;

type Step = string | { waitMs: number } | { waitFor: RegExp };

interface Conversation {
  text: string;
  ended: 'closed' | 'timeout';
  /** From the last write to the end of the conversation. */
  sinceLastWriteMs: number;
}

/** Plays `steps` on one raw connection, then collects everything until the gateway closes it. */
function converse(port: number, steps: Step[], timeoutMs = 6000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let lastWriteAt = Date.now();
    let ended: Conversation['ended'] | undefined;
    const text = () => Buffer.concat(chunks).toString('latin1');
    const finish = (how: Conversation['ended']) => {
      if (ended) return;
      ended = how;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: text(), ended: how, sinceLastWriteMs: Date.now() - lastWriteAt });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? finish('closed') : reject(err),
    );
    const play = async () => {
      for (const step of steps) {
        if (ended) return;
        if (typeof step === 'string') {
          socket.write(step, 'latin1');
          lastWriteAt = Date.now();
        } else if ('waitMs' in step) await new Promise((r) => setTimeout(r, step.waitMs));
        else while (!ended && !step.waitFor.test(text())) await new Promise((r) => setTimeout(r, 10));
      }
    };
    play().catch(reject);
  });
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
const H = 'Host: app.example\r\n';
const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\n${H}${extra}Connection: close\r\n\r\n`;
const post = (headers: string, body = '') => `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const CHUNKED = 'Transfer-Encoding: chunked\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** Refused before any handler runs or by the gateway's own checks: [name, payload, status]. */
const REFUSED: [string, string, number][] = [
  ['duplicate transfer-encoding', post(`${CHUNKED}${CHUNKED}`, LAST_CHUNK), 400],
  ['transfer-encoding listed twice', post('Transfer-Encoding: chunked, chunked\r\n', LAST_CHUNK), 400],
  ['chunked not the final coding', post('Transfer-Encoding: chunked, gzip\r\n', LAST_CHUNK), 400],
  ['unknown sole transfer-encoding', post('Transfer-Encoding: xchunked\r\n'), 400],
  ['transfer-encoding identity', post('Transfer-Encoding: identity\r\n'), 400],
  ['transfer-encoding with content-length', post(`Content-Length: 4\r\n${CHUNKED}`, LAST_CHUNK), 400],
  [
    'whitespace before the colon of transfer-encoding',
    post('Transfer-Encoding : chunked\r\n', LAST_CHUNK),
    400,
  ],
  ['obs-fold with a space', get('/a', 'X-A: one\r\n two\r\n'), 400],
  ['obs-fold with a tab', get('/a', 'X-A: one\r\n\ttwo\r\n'), 400],
  ['bare LF line endings', 'GET /a HTTP/1.1\nHost: a\n\n', 400],
  ['bare LF inside the headers', 'GET /a HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n', 400],
  ['bare CR inside the headers', 'GET /a HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n', 400],
  ['whitespace before the first header name', 'GET /a HTTP/1.1\r\n Host: a\r\n\r\n', 400],
  ['whitespace before a later header name', get('/a', ' X-A: b\r\n'), 400],
  ['space before the colon', get('/a', 'X-A : b\r\n'), 400],
  ['tab before the colon', get('/a', 'X-A\t: b\r\n'), 400],
  ['empty content-length', post('Content-Length: \r\n'), 400],
  ['conflicting content-length', post('Content-Length: 1\r\nContent-Length: 2\r\n', 'ab'), 400],
  ['duplicate equal content-length', post('Content-Length: 2\r\nContent-Length: 2\r\n', 'ab'), 400],
  ['content-length as a list', post('Content-Length: 2, 2\r\n', 'ab'), 400],
  ['negative content-length', post('Content-Length: -1\r\n'), 400],
  ['content-length with a plus sign', post('Content-Length: +2\r\n', 'ab'), 400],
  ['hexadecimal content-length', post('Content-Length: 0x2\r\n', 'ab'), 400],
  ['content-length beyond 2^64', post('Content-Length: 99999999999999999999999\r\n', 'ab'), 400],
  ['empty header name', get('/a', ': b\r\n'), 400],
  ['NUL in a header value', get('/a', 'X-A: b\0c\r\n'), 400],
  ['NUL in a header name', get('/a', 'X-\0A: b\r\n'), 400],
  ['NUL in the target', get('/a\0b'), 400],
  ['DEL in a header value', get('/a', 'X-A: b\x7fc\r\n'), 400],
  ['control character in a header value', get('/a', 'X-A: b\x01c\r\n'), 400],
  ['space inside the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['raw UTF-8 bytes in the target', get('/caf\xc3\xa9'), 400],
  ['HTTP/1.1 without Host', 'GET /a HTTP/1.1\r\n\r\n', 400],
  ['unknown HTTP version', 'GET /a HTTP/1.2\r\nHost: a\r\n\r\n', 400],
  ['lower-case method', 'get /a HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['unknown method', 'FOO /a HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['chunk size that is not hex', post(CHUNKED, `zz\r\nab\r\n${LAST_CHUNK}`), 400],
  ['chunk size overflow', post(CHUNKED, `fffffffffffffffffff\r\nab\r\n${LAST_CHUNK}`), 400],
  ['chunk framing with bare LF', post(CHUNKED, '2\nab\n0\n\n'), 400],
  ['asterisk-form target', 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 400],
  ['one header over maxHeaderBytes', get('/a', `X-Big: ${'a'.repeat(MAX_HEADER_BYTES + 100)}\r\n`), 431],
  ['many headers summing over maxHeaderBytes', get('/a', 'X-Header-Name: some-value\r\n'.repeat(200)), 431],
  ['request line over maxHeaderBytes', get(`/${'a'.repeat(MAX_HEADER_BYTES + 100)}`), 431],
  ['declared body over maxBodyBytes', post(`Content-Length: ${MAX_BODY_BYTES + 1}\r\n`), 413],
];

/** Targets forwarded byte for byte to the configured upstream: [client target, target the upstream must see]. */
const TARGETS: [string, string][] = [
  ['/a/../../etc/passwd', '/a/../../etc/passwd'],
  ['/a/%2e%2e/%2E%2E/b', '/a/%2e%2e/%2E%2E/b'],
  ['/a/.%2e/b', '/a/.%2e/b'],
  ['//double//slashes//', '//double//slashes//'],
  ['/a%2fb%2F..%2f', '/a%2fb%2F..%2f'],
  ['/a\\..\\b', '/a\\..\\b'],
  ['/%5c%5cevil.example/x', '/%5c%5cevil.example/x'],
  ['/a#fragment', '/a#fragment'],
  ['//evil.example/x?y=1', '//evil.example/x?y=1'],
  ['http://evil.example/x?y=1', '/x?y=1'],
  ['HTTPS://evil.example:8443', '/'],
  ['http://user@evil.example//other.example/x', '//other.example/x'],
];

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

  // Each malformed, oversized or smuggling-shaped request gets its exact status and never reaches the upstream.
  it.each(REFUSED)('refuses %s', async (_name, payload, status) => {
    const before = upstream.requests.length;
    const answer = await converse(port, [payload]);
    expect(statusOf(answer.text)).toBe(status);
    expect(answer.ended).toBe('closed');
    expect(upstream.requests.length).toBe(before);
  });

  // An error body never echoes what the client sent.
  it('never echoes client input in an error body', async () => {
    const answer = await converse(port, [get('/a', 'X-Echo-Me: <script>marker</script>\r\nX-A : b\r\n')]);
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.text).not.toContain('marker');
  });

  // CONNECT has no handler on a proxy that is not a tunnel: the socket is closed without an answer.
  it('closes an authority-form CONNECT without forwarding it', async () => {
    const before = upstream.requests.length;
    const answer = await converse(port, [
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
    ]);
    expect(answer).toMatchObject({ text: '', ended: 'closed' });
    expect(upstream.requests.length).toBe(before);
  });

  // Paths are forwarded verbatim to the configured origin; the gateway never resolves them into another origin.
  it.each(TARGETS)('forwards %j to the configured upstream as %j', async (target, expected) => {
    const before = upstream.requests.length;
    const answer = await converse(port, [get(target)]);
    expect(statusOf(answer.text)).toBe(200);
    expect(upstream.requests.length).toBe(before + 1);
    expect(upstream.requests[before]!.url).toBe(expected);
    expect(upstream.requests[before]!.headers.host).toBe('app.example');
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
  it('disconnects slow headers on a fresh connection', async () => {
    const answer = await converse(port, ['GET /a HTTP/1.1\r\n', { waitMs: 100 }, H]);
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
  it('ends a slow body at requestTimeoutMs', async () => {
    const before = upstream.requests.length;
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
    await expect.poll(() => gw.view.regions()['us-east']!.inflight, { timeout: 5000 }).toBe(0);
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
    const second = answer.text.indexOf('HTTP/1.1', 1);
    if (second !== -1) expect(answer.text.slice(0, second)).toMatch(/\r\n0\r\n\r\n$/);
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
