import { randomBytes, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import type { ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import { type FaultMode, type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { sha256 } from '../support/http-client.js';
import { http2Request, http2Session } from '../support/http2-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

// listen.tls: TLS on the public port with h2 and http/1.1 by ALPN, both through the same request
// path as plain HTTP (region header, request id, hop-by-hop rules, admission); the certificate
// follows reloads, and a bad file leaves the old one serving.

const upload = randomBytes(256 * 1024);

/** The leaf certificate a fresh TLS connection to `port` is shown, as its SHA-256 fingerprint. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

function negotiate(port: number, ca: Buffer, options: object): Promise<string | false | null> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca, ...options }, () => {
      resolve(socket.alpnProtocol);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe.runIf(opensslAvailable())('TLS and HTTP/2 on the public port', () => {
  let certs: TestCertificates;
  let upstream: FaultUpstream;
  let gw: TestGateway;
  let session: ClientHttp2Session;
  let port: number;
  let config: (tls: object | undefined) => Record<string, unknown>;

  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-tls-public-')));
    // The served pair lives in files of their own, so a test can replace them and reload.
    await copyFile(certs.certPath, join(certs.dir, 'live.pem'));
    await copyFile(certs.keyPath, join(certs.dir, 'live.key'));
    upstream = await startFaultUpstream((req): FaultMode => {
      if (req.url === '/echo') return { kind: 'echo' };
      if (req.url === '/early-hints')
        return {
          kind: 'ok',
          earlyHints: { link: ['</style.css>; rel=preload; as=style', '</app.js>; rel=preload'] },
        };
      if (req.url === '/hop')
        return {
          kind: 'ok',
          headers: { connection: 'keep-alive, x-private', 'x-private': 's', 'keep-alive': '9' },
        };
      return { kind: 'ok' };
    });
    const tls = { cert: join(certs.dir, 'live.pem'), key: join(certs.dir, 'live.key') };
    config = (listenTls) => ({
      listen: { port: 0, maxBodyBytes: 300_000, ...(listenTls && { tls: listenTls }) },
      admin: { port: 0 },
      regions: {
        'us-east': { upstreams: [upstream.url], capacity: { rps: 10_000 } },
        tiny: { upstreams: [upstream.url], capacity: { rps: 0.001, burst: 2 } },
      },
      routing: { default: 'us-east' },
      shutdownGraceMs: 1000,
    });
    gw = await startTestGateway(config(tls));
    port = Number(new URL(gw.publicUrl).port);
    session = await http2Session(gw.publicUrl, certs.ca);
  });

  afterAll(async () => {
    session?.close();
    await gw?.close();
    await upstream?.close();
    if (certs) await rm(certs.dir, { recursive: true, force: true });
  });

  // ALPN offers h2 and http/1.1; TLS below 1.2 is refused.
  it('negotiates h2 or http/1.1 and refuses TLS 1.1', async () => {
    expect(gw.publicUrl).toMatch(/^https:\/\//);
    expect(await negotiate(port, certs.ca, { ALPNProtocols: ['h2', 'http/1.1'] })).toBe('h2');
    expect(await negotiate(port, certs.ca, { ALPNProtocols: ['http/1.1'] })).toBe('http/1.1');
    await expect(negotiate(port, certs.ca, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  // An HTTP/2 stream goes upstream as HTTP/1.1: :authority as host, https as the forwarded proto,
  // no pseudo-headers, cookies joined; the answer carries the region and the request id.
  it('forwards an HTTP/2 request to a plain upstream', async () => {
    const res = await http2Request(session, {
      ':path': '/api/x?q=1',
      ':authority': `app.example:${port}`,
      'x-request-id': 'h2-req-1',
      cookie: ['a=1', 'b=2'],
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-floodgate-region']).toBe('us-east');
    expect(res.headers['x-request-id']).toBe('h2-req-1');
    const seen = upstream.requests.at(-1)!;
    expect(seen.url).toBe('/api/x?q=1');
    expect(seen.headers.host).toBe(`app.example:${port}`);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe(`app.example:${port}`);
    expect(seen.headers.cookie).toBe('a=1; b=2');
    expect(seen.headers.via).toBe('2 floodgate');
    expect(seen.rawHeaders.filter((_, i) => i % 2 === 0).some((name) => name.startsWith(':'))).toBe(false);
  });

  // RFC 9113 §8.3.1: the upstream's Host comes from :authority; a Host header naming another host
  // is malformed, refused before anything goes upstream (else x-forwarded-host, the Host and the
  // stale cache's key would each name a different host).
  it('takes Host from :authority and refuses a Host header naming another', async () => {
    const before = upstream.requests.length;
    const other = await http2Request(session, {
      ':path': '/api/h',
      ':authority': 'a.example',
      host: 'b.example',
    });
    expect(other.status).toBe(400);
    expect(upstream.requests.length).toBe(before);
    const same = await http2Request(session, {
      ':path': '/api/h',
      ':authority': 'a.example',
      host: 'A.example',
    });
    expect(same.status).toBe(200);
    const seen = upstream.requests.at(-1)!;
    expect(seen.rawHeaders.filter((name) => name.toLowerCase() === 'host')).toHaveLength(1);
    expect(seen.headers.host).toBe('a.example');
    expect(seen.headers['x-forwarded-host']).toBe('a.example');
  });

  // listen.maxHeaderBytes holds on HTTP/2 as on HTTP/1.1, counted the same way: nghttp2 enforces the
  // list size it offers only once the client has acknowledged it, and not as a 431. Within it, the
  // number of fields is not held against a stream (browsers send each cookie as a field, §8.2.3).
  it('holds HTTP/2 headers to maxHeaderBytes with a 431, whatever their number of fields', async () => {
    const refusals = async () =>
      Number(
        /^floodgate_bad_requests_total\{reason="headers-too-large"\} (\d+)$/m.exec(
          await gw.metrics.text(),
        )?.[1] ?? 0,
      );
    const before = upstream.requests.length;
    const counted = await refusals();
    const fresh = await http2Session(gw.publicUrl, certs.ca);
    try {
      // On a new session: sent before the client can have acknowledged the server's SETTINGS.
      const big = await http2Request(fresh, { ':path': '/big-headers', 'x-big': 'a'.repeat(17_000) });
      expect(big.status).toBe(431);
      expect(big.headers['x-floodgate-region']).toBe('us-east');
    } finally {
      fresh.destroy();
    }
    expect(upstream.requests.length).toBe(before);
    expect(await refusals()).toBe(counted + 1);
    const crumbs = Array.from({ length: 300 }, (_, i) => `c${i}=${i}`);
    const many = await http2Request(session, { ':path': '/crumbs', cookie: crumbs });
    expect(many.status).toBe(200);
    expect(upstream.requests.at(-1)!.headers.cookie).toBe(crumbs.join('; '));
  });

  // A body sent as DATA frames without content-length reaches the upstream whole.
  it('streams an HTTP/2 request body upstream and back', async () => {
    const res = await http2Request(session, { ':method': 'POST', ':path': '/echo' }, upload);
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(sha256(upload));
  });

  // RFC 9110 §10.1.1: `100-continue` is case-insensitive (Node's HTTP/2 side compares it exactly).
  it('forwards an HTTP/2 upload that expects 100-Continue in any case', async () => {
    const res = await http2Request(
      session,
      { ':method': 'POST', ':path': '/echo', expect: '100-Continue' },
      upload,
    );
    expect(res.status).toBe(200);
    expect(sha256(res.body)).toBe(sha256(upload));
  });

  // A declared body over maxBodyBytes is refused on its stream alone; the connection carries on.
  it('refuses an oversized HTTP/2 body with 413 and keeps the session', async () => {
    const body = Buffer.alloc(400_000);
    const res = await http2Request(
      session,
      { ':method': 'POST', ':path': '/echo', 'content-length': '400000' },
      body,
    );
    expect(res.status).toBe(413);
    expect(res.headers['x-floodgate-region']).toBe('us-east');
    expect((await http2Request(session, { ':path': '/after-413' })).status).toBe(200);
  });

  // Hop-by-hop headers of the upstream's answer never reach an HTTP/2 client (Node would throw on them).
  it('answers HTTP/2 without hop-by-hop headers', async () => {
    const res = await http2Request(session, { ':path': '/hop' });
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['x-private']).toBeUndefined();
  });

  // RFC 9110 §15.2: an upstream's 103 reaches an HTTP/2 client as an informational HEADERS frame before the answer.
  it('forwards a 103 Early Hints to an HTTP/2 client', async () => {
    const res = await http2Request(session, { ':path': '/early-hints' });
    expect(res.informational.map((h) => [h[':status'], h.link])).toEqual([
      [103, '</style.css>; rel=preload; as=style, </app.js>; rel=preload'],
    ]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ ok: true, path: '/early-hints' });
  });

  // Streams on one connection are admitted one by one: past the burst they are shed, the session lives on.
  it('sheds HTTP/2 streams one by one', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => http2Request(session, { ':path': '/t', 'x-region': 'tiny' })),
    );
    // The bucket holds 2 tokens, and `normal` keeps a reserve of it: one or two streams get through.
    const admitted = answers.filter((a) => a.status === 200).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(2);
    const shed = answers.filter((a) => a.status === 503);
    expect(shed).toHaveLength(6 - admitted);
    expect(shed[0]!.headers['x-floodgate-shed']).toBe('rate');
    expect(shed[0]!.headers['retry-after']).toBeDefined();
    expect((await http2Request(session, { ':path': '/after' })).status).toBe(200);
  });

  // HTTPS/1.1 takes the same path: Host kept, https as the forwarded proto, keep-alive works.
  it('serves HTTPS/1.1', async () => {
    const agent = new Agent({ connect: { ca: certs.ca, servername: 'localhost' } });
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gw.publicUrl}/h1`, {
        dispatcher: agent,
        headers: { 'x-region': 'us-east' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-floodgate-region']).toBe('us-east');
      await res.body.text();
    }
    expect(upstream.requests.at(-1)!.headers['x-forwarded-proto']).toBe('https');
    await agent.close();
  });

  // Over TLS too, an upgrade the gateway does not tunnel is served as an ordinary request, on a
  // connection that carries the next one.
  it('serves an h2c upgrade over HTTPS/1.1 as an ordinary request', async () => {
    const socket = tlsConnect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: certs.ca,
      ALPNProtocols: ['http/1.1'],
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    const answered = (count: number) =>
      until(() => (text.match(/\r\n\r\n\{"ok":true/g)?.length ?? 0) === count);
    socket.write(
      'GET /h2c HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
    );
    await answered(1);
    socket.write('GET /after-h2c HTTP/1.1\r\nHost: gw\r\n\r\n');
    await answered(2);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const seen = upstream.requests.find((r) => r.url === '/h2c')!;
    expect(seen.headers.upgrade).toBeUndefined();
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(upstream.requests.at(-1)!.url).toBe('/after-h2c');
  });

  // A reload reads the certificate again: new connections get the new one; a mismatched pair is
  // refused as a whole and the certificate in use stays.
  it('follows the certificate on reload and refuses a bad pair', async () => {
    const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
    const { readFile } = await import('node:fs/promises');
    const first = fingerprint(await readFile(certs.certPath, 'utf8'));
    const second = fingerprint(await readFile(certs.otherCertPath, 'utf8'));
    expect(await servedFingerprint(port, certs.ca)).toBe(first);

    await copyFile(certs.otherCertPath, join(certs.dir, 'live.pem'));
    const mismatched = await gw.reload();
    expect(mismatched.ok).toBe(false);
    expect(JSON.stringify(mismatched)).toContain('listen.tls.key');
    expect(await servedFingerprint(port, certs.ca)).toBe(first);

    await copyFile(certs.otherKeyPath, join(certs.dir, 'live.key'));
    expect((await gw.reload()).ok).toBe(true);
    expect(await servedFingerprint(port, certs.ca)).toBe(second);
    // The session opened before the reload keeps working on the certificate it started with.
    expect((await http2Request(session, { ':path': '/still' })).status).toBe(200);
  });

  // Removing listen.tls is a restart-only change: the reload applies the rest and says so.
  it('needs a restart to remove listen.tls', async () => {
    await gw.writeConfig(config(undefined));
    expect((await gw.reload()).ok).toBe(true);
    const warning = gw.logs.find((l) => l.event === 'reload-needs-restart');
    expect(warning?.keys).toContain('listen.tls');
    expect((await http2Request(session, { ':path': '/still-tls' })).status).toBe(200);
  });
});
