// An HTTP/2 connection's idle timeout (listen.keepAliveTimeoutMs) counts, as HTTP/1.1's keep-alive
// timeout does, only while no request is open: a slow upload is not idleness, and its connection
// must not be sent a GOAWAY halfway through it.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { http2Request, http2Session } from '../support/http2-client.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { until } from '../support/wait.js';

const IDLE_MS = 400;

describe.runIf(opensslAvailable())('HTTP/2 idle timeout', () => {
  let certs: TestCertificates;
  let upstream: FaultUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-h2-idle-')));
    upstream = await startFaultUpstream({ kind: 'ok' });
    gw = await startTestGateway({
      listen: { tls: { cert: certs.certPath, key: certs.keyPath }, keepAliveTimeoutMs: IDLE_MS },
      regions: { open: { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 } } },
      routing: { default: 'open' },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    if (certs) await rm(certs.dir, { recursive: true, force: true });
  });

  function goawayWatch(session: ClientHttp2Session): { at: number | undefined } {
    const seen = { at: undefined as number | undefined };
    session.on('goaway', () => {
      seen.at ??= Date.now();
    });
    return seen;
  }

  /** A GOAWAY comes, and no sooner than IDLE_MS after the connection's last answer. */
  async function expectIdleGoaway(seen: { at: number | undefined }, answeredAt: number): Promise<void> {
    await until(() => seen.at !== undefined, 10 * IDLE_MS + 5000, 'a GOAWAY');
    expect(seen.at! - answeredAt).toBeGreaterThanOrEqual(IDLE_MS - 50);
  }

  it('keeps a connection whose upload waits on a slow upstream', async () => {
    const slow = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        req.pause();
        setTimeout(() => req.resume(), 50);
      });
      req.on('end', () => res.end(String(bytes)));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const port = (slow.address() as AddressInfo).port;
    const slowGw = await startTestGateway({
      listen: { tls: { cert: certs.certPath, key: certs.keyPath }, keepAliveTimeoutMs: IDLE_MS },
      regions: {
        open: { upstreams: [`http://127.0.0.1:${port}`], capacity: { rps: 10_000, burst: 10_000 } },
      },
      routing: { default: 'open' },
    });
    const session = await http2Session(slowGw.publicUrl, certs.ca);
    const goaway = goawayWatch(session);
    try {
      const started = Date.now();
      const answer = await http2Request(
        session,
        { ':method': 'POST', ':path': '/big' },
        Buffer.alloc(512 << 10),
      );
      expect(answer.body.toString()).toBe(String(512 << 10));
      expect(Date.now() - started).toBeGreaterThan(2 * IDLE_MS);
      expect(goaway.at).toBeUndefined();
    } finally {
      session.destroy();
      await slowGw.close();
      slow.close();
    }
  });

  it('closes a connection left idle, with a GOAWAY', async () => {
    const session = await http2Session(gw.publicUrl, certs.ca);
    const goaway = goawayWatch(session);
    try {
      expect((await http2Request(session, { ':path': '/once' })).status).toBe(200);
      await expectIdleGoaway(goaway, Date.now());
    } finally {
      session.destroy();
    }
  });

  // A reload's keepAliveTimeoutMs reaches connections already open, from their next idle spell.
  it('applies a reloaded idle timeout to a connection already open', async () => {
    const listen = (keepAliveTimeoutMs: number) => ({
      host: '127.0.0.1',
      port: 0,
      tls: { cert: certs.certPath, key: certs.keyPath },
      keepAliveTimeoutMs,
    });
    const config = (keepAliveTimeoutMs: number) => ({
      listen: listen(keepAliveTimeoutMs),
      admin: { host: '127.0.0.1', port: 0 },
      regions: { open: { upstreams: [upstream.url], capacity: { rps: 10_000, burst: 10_000 } } },
      routing: { default: 'open' },
    });
    const patient = await startTestGateway(config(600_000));
    const session = await http2Session(patient.publicUrl, certs.ca);
    const goaway = goawayWatch(session);
    try {
      expect((await http2Request(session, { ':path': '/before' })).status).toBe(200);
      await patient.writeConfig(config(IDLE_MS));
      expect((await patient.reload()).ok).toBe(true);
      expect((await http2Request(session, { ':path': '/after' })).status).toBe(200);
      await expectIdleGoaway(goaway, Date.now());
    } finally {
      session.destroy();
      await patient.close();
    }
  });
});
