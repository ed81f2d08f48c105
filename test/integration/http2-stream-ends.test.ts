// HTTP/2 streams that end early, either side first. A request answered before its body was read
// (shed, or its upstream unreachable) must not leave its stream open: nobody reads the rest, so the
// client waits on flow control for ever and the stream counts against the connection's concurrent
// streams until the connection goes. A client that cancels its stream (RST_STREAM) has left: its
// slot comes back at once and its access line says so, as when an HTTP/1.1 client hangs up.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { type ClientHttp2Session, constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import {
  closedPortUrl,
  type FaultMode,
  type FaultUpstream,
  startFaultUpstream,
} from '../support/fault-upstream.js';
import { http2Request, http2Session } from '../support/http2-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

// Well beyond the 64 KiB a stream may send before its reader grants more.
const upload = randomBytes(256 * 1024);
const MAX_BODY_BYTES = 2 * upload.length;

describe.runIf(opensslAvailable())('HTTP/2 streams that end early', () => {
  let certs: TestCertificates;
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-h2-unread-')));
    upstream = await startFaultUpstream((req): FaultMode => {
      if (req.url === '/hang') return { kind: 'hang' };
      if (req.url === '/unread') return { kind: 'unread', status: 401 };
      if (req.url === '/trickle') return { kind: 'trickle', chunks: 50, intervalMs: 100 };
      if (req.url === '/big') return { kind: 'ok', body: Buffer.alloc(32 << 20, 0x62) };
      return { kind: 'ok' };
    });
    gw = await startTestGateway({
      listen: { tls: { cert: certs.certPath, key: certs.keyPath }, maxBodyBytes: MAX_BODY_BYTES },
      regions: {
        open: { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 } },
        dead: { upstreams: [await closedPortUrl()], capacity: { rps: 10_000, burst: 10_000 } },
        // Nothing but critical work gets through: a normal POST is shed.
        full: { upstreams: [upstream.url], capacity: { rps: 0.001, burst: 1 } },
        brief: { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 }, timeoutMs: 400 },
        // Its timeout is far off: only the client's leaving can free its slot in time.
        slow: { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 }, timeoutMs: 30_000 },
      },
      routing: { default: 'open' },
    });
    session = await http2Session(gw.publicUrl, certs.ca);
    // Spends the only token, so the POSTs to `full` are shed.
    expect((await http2Request(session, { ':path': '/spend', 'x-region': 'full' })).status).toBe(200);
  });

  afterAll(async () => {
    session?.destroy();
    await gw?.close();
    await upstream?.close();
    if (certs) await rm(certs.dir, { recursive: true, force: true });
  });

  /** POSTs `body` to `region`; the answer's status and body, and how the stream closed. */
  function post(
    region: string,
    body = upload,
    path = '/upload',
  ): Promise<{ status: number; body: string; rstCode: number | undefined }> {
    return new Promise((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': path, 'x-region': region });
      let status = 0;
      let text = '';
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      // A cancelled stream is reported as an error too; its close says how it ended.
      stream.on('error', () => {});
      stream.on('close', () => resolve({ status, body: text, rstCode: stream.rstCode }));
      stream.end(body);
    });
  }

  it.each([
    ['full', 503, 'overloaded'],
    ['dead', 502, 'bad gateway'],
  ])('closes the stream after the whole answer (%s: %i)', async (region, status, error) => {
    const answer = await post(region);
    expect(answer).toMatchObject({ status, rstCode: 0 });
    expect(JSON.parse(answer.body)).toMatchObject({ error });
    const next = await http2Request(session, { ':path': '/after', 'x-region': 'open' });
    expect(next.status).toBe(200);
  });

  // Read and thrown away up to a bound (1 MiB), then cancelled: shedding must stay cheap.
  it('cancels the stream of a refused upload too large to read for nothing', async () => {
    const answer = await post('full', Buffer.alloc(8 << 20));
    expect(answer).toMatchObject({ status: 503, rstCode: constants.NGHTTP2_CANCEL });
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'overloaded' });
  });

  // Node's client sends no content-length, so the body is counted as its DATA frames come in: past
  // the limit the upstream request already under way is aborted, and the rest is read and thrown
  // away up to the same bound as a shed upload's, beyond which the stream is cancelled.
  it.each([
    ['within the bound, read to its end', 2 * MAX_BODY_BYTES, 0],
    ['beyond it, cancelled', MAX_BODY_BYTES + (2 << 20), constants.NGHTTP2_CANCEL],
  ])(
    'answers 413 to an upload counted past maxBodyBytes and ends its stream (%s)',
    async (_how, size, rstCode) => {
      const forwardedWhole = () => upstream.requests.filter((r) => r.bodySha256 !== '').length;
      const before = forwardedWhole();
      const answer = await post('open', randomBytes(size));
      expect(answer).toMatchObject({ status: 413, rstCode });
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'request body too large' });
      expect(forwardedWhole()).toBe(before);
      const next = await http2Request(session, { ':path': '/after', 'x-region': 'open' });
      expect(next.status).toBe(200);
    },
  );

  // undici stops sending a body whose answer came first; the rest is the gateway's to read.
  it('ends the stream of an upload the upstream answered without reading', async () => {
    const answer = await post('open', upload, '/unread');
    expect(answer).toMatchObject({ status: 401, body: 'unread', rstCode: 0 });
    const next = await http2Request(session, { ':path': '/after', 'x-region': 'open' });
    expect(next.status).toBe(200);
  });

  it('still reads a body the upstream takes whole', async () => {
    expect(await post('open')).toMatchObject({ status: 200, rstCode: 0 });
    expect(upstream.requests.at(-1)?.bodyBytes).toBe(upload.length);
  });

  // HTTP/2 has no timeout of node:http's for the whole request: timeoutMs is what ends it.
  it('answers 408 to an upload that stops short, frees its slot and ends its stream', async () => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/stopped',
      'x-region': 'brief',
      'content-length': '1000',
    });
    stream.on('error', () => {});
    stream.write(Buffer.alloc(500));
    const [headers] = (await once(stream, 'response')) as [Record<string, string>];
    expect(headers[':status']).toBe(408);
    await until(() => gw.view.regions().brief!.inflight === 0, 2000, 'the slot back');
    // Nor is the stream left open on a client that never sends the rest: cancelled after 2 s.
    await until(() => stream.closed, 6000, 'the stream cancelled');
    expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
  });

  // Node's compatibility layer ends a request's body when its stream closes, however it closed: a
  // client gone mid-upload must not reach the upstream as a whole, shorter request (RFC 9112 §8).
  it('never passes on an upload cut short by the client leaving as a complete one', async () => {
    const cut = await http2Session(gw.publicUrl, certs.ca);
    const ids = ['cut-0', 'cut-1', 'cut-2'];
    for (const id of ids) {
      const stream = cut.request({ ':method': 'POST', ':path': `/${id}`, 'x-region': 'slow' });
      stream.on('error', () => {});
      stream.write('abc');
    }
    await until(
      () => upstream.requests.filter((r) => ids.includes(r.url.slice(1))).length === 3,
      5000,
      'all three upstream',
    );
    await until(
      () => upstream.requests.some((r) => r.url === '/cut-2' && r.bodyBytes === 3),
      5000,
      'the bodies so far',
    );
    cut.destroy();
    await until(() => gw.view.regions().slow!.inflight === 0, 5000, 'the slots back');
    const sent = upstream.requests.filter((r) => ids.includes(r.url.slice(1)));
    // bodySha256 is set only by a body that ended.
    expect(sent.map((r) => r.bodySha256)).toEqual(['', '', '']);
  });

  it.each([
    ['before the answer', '/hang', 'response' as const],
    ['while the body streams', '/trickle', 'data' as const],
  ])('frees the slot and logs 499 when it cancels %s', async (_when, path, after) => {
    const stream = session.request({ ':path': path, 'x-region': 'slow' });
    stream.on('error', () => {});
    await until(() => gw.view.regions().slow!.inflight === 1, 5000, 'the request in flight');
    if (after === 'data') await new Promise((resolve) => stream.once('data', resolve));
    stream.close(constants.NGHTTP2_CANCEL);
    // Well before the upstream ends (5 s) or times out (30 s).
    await until(() => gw.view.regions().slow!.inflight === 0, 2000, 'the slot back');
    await until(() => gw.logs.some((l) => l.path === path), 2000, 'its access line');
    expect(gw.logs.find((l) => l.path === path)).toMatchObject({ status: 499, reason: 'client-closed' });
  });

  // A client that stops reading is cut after timeoutMs, and the cut must say so: RST_STREAM with
  // NO_ERROR is for a server that sent its whole answer (RFC 9113 §8.1), so a chunked one would
  // look complete.
  it('resets a stream whose client stopped reading with an error code, not NO_ERROR', async () => {
    const idle = await http2Session(gw.publicUrl, certs.ca);
    try {
      const stream = idle.request({ ':path': '/big', 'x-region': 'brief' });
      stream.on('error', () => {});
      await once(stream, 'response');
      stream.pause();
      await until(() => stream.closed, 15_000, 'the stream reset');
      expect(stream.rstCode).toBe(constants.NGHTTP2_INTERNAL_ERROR);
      await until(() => gw.view.regions().brief!.inflight === 0, 5000, 'the slot back');
    } finally {
      idle.destroy();
    }
  });
});
