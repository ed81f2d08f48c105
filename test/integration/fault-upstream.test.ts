import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FaultUpstream, startFaultUpstream, trickleChunk } from '../support/fault-upstream.js';

let upstream: FaultUpstream;
let agent: Agent;

beforeAll(() => {
  agent = new Agent({ keepAliveTimeout: 1_000 });
});

afterAll(async () => {
  await agent.destroy();
});

afterEach(async () => {
  await upstream?.close();
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a body to the end, collecting what arrived before any error. */
async function readAll(
  body: AsyncIterable<Buffer>,
): Promise<{ bytes: Buffer; error?: Error; chunks: number }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of body) parts.push(chunk);
    return { bytes: Buffer.concat(parts), chunks: parts.length };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error: error as Error, chunks: parts.length };
  }
}

describe('fault upstream', () => {
  it('answers 200 JSON naming the path by default and records the request', async () => {
    // Verifies: the default mode's body and the recorded method, url, headers and body hash.
    upstream = await startFaultUpstream();
    const payload = Buffer.from('{"hello":"world"}');
    const res = await request(`${upstream.url}/api/items?x=1`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'abc' },
      body: payload,
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ ok: true, path: '/api/items?x=1' });
    expect(upstream.requests).toHaveLength(1);
    const seen = upstream.requests[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/api/items?x=1');
    expect(seen.headers['x-custom']).toBe('abc');
    expect(seen.rawHeaders).toContain('x-custom');
    expect(seen.bodyBytes).toBe(payload.length);
    expect(seen.bodySha256).toBe(sha256(payload));
  });

  it('sends a configured status, body and headers in ok mode', async () => {
    // Verifies: ok mode's overrides reach the client unchanged.
    upstream = await startFaultUpstream({
      kind: 'ok',
      status: 203,
      body: 'plain words',
      headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' },
    });
    const res = await request(`${upstream.url}/x`, { dispatcher: agent });
    expect(res.statusCode).toBe(203);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(await res.body.text()).toBe('plain words');
  });

  it('answers with the given status in status mode', async () => {
    // Verifies: status mode returns that status with a small JSON body.
    upstream = await startFaultUpstream({ kind: 'status', status: 503 });
    const res = await request(`${upstream.url}/x`, { dispatcher: agent });
    expect(res.statusCode).toBe(503);
    expect(await res.body.json()).toEqual({ ok: false, status: 503 });
  });

  it('never sends headers in hang mode', async () => {
    // Verifies: the client's headers timeout fires, and the request was still recorded.
    upstream = await startFaultUpstream({ kind: 'hang' });
    const failure = await request(`${upstream.url}/slow`, { dispatcher: agent, headersTimeout: 300 }).catch(
      (error: { code?: string }) => error,
    );
    expect((failure as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/slow']);
  });

  it('resets the connection in reset mode', async () => {
    // Verifies: the client sees a socket error rather than any response.
    upstream = await startFaultUpstream({ kind: 'reset' });
    const failure = await request(`${upstream.url}/x`, { dispatcher: agent }).then(
      () => undefined,
      (error: { code?: string }) => error,
    );
    expect(failure).toBeDefined();
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(failure!.code);
    expect(upstream.requests).toHaveLength(1);
  });

  it('stalls after part of the body in stall-mid-body mode', async () => {
    // Verifies: headers and exactly sendBytes arrive, then the body times out.
    upstream = await startFaultUpstream({ kind: 'stall-mid-body', sendBytes: 2_000 });
    const res = await request(`${upstream.url}/x`, { dispatcher: agent, bodyTimeout: 300 });
    expect(res.statusCode).toBe(200);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(2_000);
    const read = await readAll(res.body);
    expect(read.bytes.length).toBe(2_000);
    expect((read.error as { code?: string } | undefined)?.code).toBe('UND_ERR_BODY_TIMEOUT');
  });

  it('ends the connection short of the declared length in short-body mode', async () => {
    // Verifies: the client gets `send` bytes and then an error, never a clean end.
    upstream = await startFaultUpstream({ kind: 'short-body', declared: 10_000, send: 3_000 });
    const res = await request(`${upstream.url}/x`, { dispatcher: agent });
    expect(res.headers['content-length']).toBe('10000');
    const read = await readAll(res.body);
    expect(read.bytes.length).toBe(3_000);
    expect(read.error).toBeDefined();
  });

  it('sends the body in spaced chunks in trickle mode', async () => {
    // Verifies: all chunks arrive in order, separately, and no faster than the interval allows.
    upstream = await startFaultUpstream({ kind: 'trickle', chunks: 4, intervalMs: 60 });
    const started = performance.now();
    const res = await request(`${upstream.url}/x`, { dispatcher: agent });
    const read = await readAll(res.body);
    const elapsed = performance.now() - started;
    expect(read.error).toBeUndefined();
    expect(read.bytes.toString()).toBe([0, 1, 2, 3].map(trickleChunk).join(''));
    expect(read.chunks).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 60 * 0.8);
  });

  it('streams the request body back in echo mode', async () => {
    // Verifies: a 1 MiB streamed upload comes back byte for byte and is recorded with its hash.
    upstream = await startFaultUpstream({ kind: 'echo' });
    const payload = randomBytes(1024 * 1024);
    const parts = Array.from({ length: 16 }, (_, i) => payload.subarray(i * 65_536, (i + 1) * 65_536));
    const res = await request(`${upstream.url}/upload`, {
      dispatcher: agent,
      method: 'PUT',
      body: Readable.from(parts),
    });
    const read = await readAll(res.body);
    expect(read.error).toBeUndefined();
    expect(sha256(read.bytes)).toBe(sha256(payload));
    expect(upstream.requests[0]!.bodyBytes).toBe(payload.length);
    expect(upstream.requests[0]!.bodySha256).toBe(sha256(payload));
  });

  it('answers after the given time in delay mode', async () => {
    // Verifies: the default ok answer arrives no sooner than the delay.
    upstream = await startFaultUpstream({ kind: 'delay', ms: 150 });
    const started = performance.now();
    const res = await request(`${upstream.url}/later`, { dispatcher: agent });
    expect(await res.body.json()).toEqual({ ok: true, path: '/later' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150 * 0.8);
  });

  it('switches modes with setMode, including per-request choices', async () => {
    // Verifies: setMode applies to the next request; a function picks a mode per path.
    upstream = await startFaultUpstream({ kind: 'status', status: 500 });
    expect((await request(`${upstream.url}/a`, { dispatcher: agent })).statusCode).toBe(500);
    upstream.setMode((req) => (req.url === '/broken' ? { kind: 'status', status: 502 } : { kind: 'ok' }));
    const broken = await request(`${upstream.url}/broken`, { dispatcher: agent });
    const fine = await request(`${upstream.url}/fine`, { dispatcher: agent });
    await broken.body.dump();
    await fine.body.dump();
    expect(broken.statusCode).toBe(502);
    expect(fine.statusCode).toBe(200);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/a', '/broken', '/fine']);
  });

  it('destroys hanging connections on close', async () => {
    // Verifies: close() resolves and the client waiting on a hung request fails promptly.
    upstream = await startFaultUpstream({ kind: 'hang' });
    const pending = request(`${upstream.url}/x`, { dispatcher: agent, headersTimeout: 20_000 }).then(
      () => 'answered',
      () => 'failed',
    );
    while (upstream.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    await upstream.close();
    expect(await pending).toBe('failed');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
