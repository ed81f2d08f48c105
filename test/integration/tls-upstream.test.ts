import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import { fetchText } from '../support/http-client.js';
import { converse } from '../support/raw-socket.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

// https upstreams: regions.*.tls.ca replaces the system CAs, servername sets SNI and the name
// checked, rejectUnauthorized: false skips verification; a certificate not trusted answers 502.

describe.runIf(opensslAvailable())('https upstreams', () => {
  let certs: TestCertificates;
  let upstream: Server;
  let gw: TestGateway;
  let regions: (caForSystemCas: boolean) => Record<string, unknown>;
  const servernames: (string | false | null)[] = [];

  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-tls-upstream-')));
    upstream = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      servernames.push((req.socket as TLSSocket).servername);
      res.end(`secure ${req.url}`);
    });
    // A WebSocket handshake is answered with 101 and its bytes echoed, the SNI it came with noted.
    upstream.on('upgrade', (_req, socket: TLSSocket) => {
      servernames.push(socket.servername);
      socket.on('error', () => socket.destroy());
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const region = (tls: object | undefined) => ({
      upstreams: [url],
      capacity: { rps: 1000 },
      timeoutMs: 2000,
      breaker: { volumeThreshold: 1000 },
      ...(tls && { tls }),
    });
    regions = (caForSystemCas) => ({
      regions: {
        trusted: region({ ca: certs.caPath }),
        named: region({ ca: certs.caPath, servername: 'localhost' }),
        'wrong-name': region({ ca: certs.caPath, servername: 'elsewhere.example' }),
        'system-cas': region(caForSystemCas ? { ca: certs.caPath } : undefined),
        unverified: region({ rejectUnauthorized: false }),
      },
      routing: { default: 'trusted' },
      shutdownGraceMs: 1000,
    });
    gw = await startTestGateway(regions(false));
  });

  afterAll(async () => {
    await gw?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    if (certs) await rm(certs.dir, { recursive: true, force: true });
  });

  const get = (region: string) => fetchText(`${gw.publicUrl}/x`, { headers: { 'x-region': region } });

  // The region's CA makes the upstream's certificate trusted, verified against the URL's address.
  it('forwards to an upstream its CA vouches for', async () => {
    const res = await get('trusted');
    expect(res.status).toBe(200);
    expect(res.body).toBe('secure /x');
    expect(res.headers['x-floodgate-region']).toBe('trusted');
  });

  // servername is sent as SNI and is the name the certificate must carry.
  it('sends the configured servername and checks the certificate against it', async () => {
    servernames.length = 0;
    expect((await get('named')).status).toBe(200);
    expect(servernames).toEqual(['localhost']);
    const wrong = await get('wrong-name');
    expect(wrong.status).toBe(502);
    expect(wrong.headers['x-floodgate-region']).toBe('wrong-name');
  });

  // Without the CA the system's store does not know the test CA: verification fails, 502.
  it('answers 502 when the certificate is not trusted', async () => {
    const res = await get('system-cas');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'bad gateway', region: 'system-cas' });
  });

  // A reload that gives a region a CA builds new pools with it (connections keep their TLS settings).
  it('applies a new CA on reload', async () => {
    expect((await get('system-cas')).status).toBe(502);
    await gw.writeConfig({ listen: { port: 0 }, admin: { port: 0 }, ...regions(true) });
    expect(await gw.reload()).toMatchObject({ ok: true });
    expect((await get('system-cas')).status).toBe(200);
  });

  // A WebSocket tunnel to an https upstream uses the region's TLS as its pools do: its CA, its
  // servername as SNI and as the name checked.
  it('opens WebSocket tunnels with the region TLS', async () => {
    servernames.length = 0;
    const port = Number(new URL(gw.publicUrl).port);
    const handshake = (region: string) =>
      converse(
        port,
        [
          `GET /ws HTTP/1.1\r\nHost: gw\r\nx-region: ${region}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          { waitFor: /\r\n\r\n/ },
          'echo-me',
          { waitFor: /echo-me/ },
          // Then the tunnel stays open: the conversation ends when this runs out.
        ],
        1500,
      );
    const named = await handshake('named');
    expect(named.text).toMatch(/^HTTP\/1\.1 101 /);
    expect(named.text.endsWith('echo-me')).toBe(true);
    expect(servernames).toEqual(['localhost']);
    expect((await handshake('trusted')).text).toMatch(/^HTTP\/1\.1 101 /);
    expect((await handshake('wrong-name')).text).toMatch(/^HTTP\/1\.1 502 /);
  });

  // rejectUnauthorized: false accepts any certificate (for test setups, never the default).
  it('skips verification only when told to', async () => {
    expect((await get('unverified')).status).toBe(200);
  });
});
