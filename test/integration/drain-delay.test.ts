import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { http2Request, http2Session } from '../support/http2-client.js';
import { type CapturedProcess, spawnCapturing } from '../support/spawn-capturing.js';
import { until } from '../support/wait.js';

// drainDelayMs as a load balancer sees it: after SIGTERM, /readyz is 503 at once while the public
// port keeps accepting and answering; keep-alive answers say `connection: close`, HTTP/2 sessions
// get GOAWAY; afterwards the port closes and the process exits 0. A client sending steadily
// through SIGTERM sees no refused connection. The CLI runs as users run it (npm test builds first).

const CLI = join(process.cwd(), 'dist/src/cli.js');
const OPENSSL = opensslAvailable();
const DELAY_MS = 3000;
/** How long the client keeps sending after SIGTERM: well inside the delay, even on a busy machine. */
const SEND_FOR_MS = 1500;

interface Started {
  process: CapturedProcess;
  /** host:port of the public and admin listeners. */
  listen: string;
  admin: string;
}

async function startCli(dir: string, upstream: string, tls?: object): Promise<Started> {
  const file = join(dir, `gateway-${tls ? 'tls' : 'plain'}.yaml`);
  await writeFile(
    file,
    stringify({
      listen: { port: 0, keepAliveTimeoutMs: 30_000, ...(tls && { tls }) },
      admin: { port: 0 },
      regions: { a: { upstreams: [upstream], capacity: { rps: 100_000 } } },
      routing: { default: 'a' },
      drainDelayMs: DELAY_MS,
      shutdownGraceMs: 2000,
      log: { access: false },
    }),
  );
  const child = spawnCapturing(process.execPath, [CLI, '--config', file]);
  await until(() => child.output().includes('"event":"started"'), 10_000, 'the started line');
  const line = child
    .output()
    .split('\n')
    .find((l) => l.includes('"started"'))!;
  const { listen, admin } = JSON.parse(line) as { listen: string; admin: string };
  return { process: child, listen, admin };
}

interface Tally {
  ok: number;
  failed: string[];
}

/**
 * Sends steadily, signals SIGTERM, checks that readiness turned 503, and keeps sending for
 * SEND_FOR_MS: every request must succeed. `beforeSignal` checks the state before SIGTERM.
 * Returns when SIGTERM was sent.
 */
async function sendThroughSigterm(
  gateway: Started,
  tally: Tally,
  send: () => Promise<void>,
  beforeSignal: () => void,
): Promise<number> {
  for (let i = 0; i < 20; i++) await send();
  beforeSignal();
  const okBefore = tally.ok;
  const signalledAt = Date.now();
  gateway.process.child.kill('SIGTERM');
  const output = gateway.process.output;
  await until(() => output().includes('"event":"shutdown-began"'), 5000, 'shutdown-began');
  expect((await fetchText(`http://${gateway.admin}/readyz`)).status).toBe(503);
  while (Date.now() - signalledAt < SEND_FOR_MS) await send();
  expect(tally.failed).toEqual([]);
  expect(tally.ok - okBefore).toBeGreaterThan(10);
  return signalledAt;
}

/** One request on a fresh connection: the shape of a balancer's new connections. */
function freshConnectionGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/fresh`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('drainDelayMs', () => {
  let upstream: FaultUpstream;
  let dir: string;
  let certs: TestCertificates;
  const started: Started[] = [];

  beforeAll(async () => {
    upstream = await startFaultUpstream({ kind: 'ok' });
    dir = await mkdtemp(join(tmpdir(), 'floodgate-drain-'));
    if (OPENSSL) certs = await makeCertificates(dir);
  });

  afterAll(async () => {
    for (const gateway of started)
      if (gateway.process.child.exitCode === null) gateway.process.child.kill('SIGKILL');
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // HTTP/1.1, on keep-alive and on fresh connections: nothing refused, keep-alive answers close.
  it('keeps serving HTTP/1.1 through the delay with 0 refused connections, then closes the port', async () => {
    const gateway = await startCli(dir, upstream.url);
    started.push(gateway);
    const publicUrl = `http://${gateway.listen}`;
    const agent = new Agent({ connections: 2, keepAliveTimeout: 30_000 });
    const tally: Tally = { ok: 0, failed: [] };
    let closes = 0;
    const send = async () => {
      try {
        const res = await request(`${publicUrl}/kept`, { dispatcher: agent });
        await res.body.text();
        if (res.statusCode === 200) tally.ok++;
        else tally.failed.push(`keep-alive ${res.statusCode}`);
        if (res.headers.connection === 'close') closes++;
        const fresh = await freshConnectionGet(publicUrl);
        if (fresh === 200) tally.ok++;
        else tally.failed.push(`fresh ${fresh}`);
      } catch (err) {
        tally.failed.push(`${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const signalledAt = await sendThroughSigterm(gateway, tally, send, () => expect(closes).toBe(0));
    expect(closes).toBeGreaterThan(0);
    expect(await gateway.process.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(DELAY_MS - 100);
    // Once the delay is over the port is closed: nothing is listening any more.
    await expect(freshConnectionGet(publicUrl)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await agent.close();
  });

  describe.runIf(OPENSSL)('over HTTP/2', () => {
    // A session gets GOAWAY; the client opens a new one, which the port still accepts; nothing fails.
    it('sends GOAWAY and keeps accepting new sessions through the delay', async () => {
      const gateway = await startCli(dir, upstream.url, { cert: certs.certPath, key: certs.keyPath });
      started.push(gateway);
      const url = `https://${gateway.listen}`;
      let session: ClientHttp2Session = await http2Session(url, certs.ca);
      let goaways = 0;
      let sessions = 1;
      const tally: Tally = { ok: 0, failed: [] };
      const watch = (s: ClientHttp2Session) => s.once('goaway', () => goaways++);
      watch(session);
      const send = async () => {
        try {
          if (session.closed || session.destroyed || goaways >= sessions) {
            session = await http2Session(url, certs.ca);
            sessions++;
            watch(session);
          }
          const res = await http2Request(session, { ':path': '/h2' });
          if (res.status === 200) tally.ok++;
          else tally.failed.push(String(res.status));
        } catch (err) {
          tally.failed.push(`${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      };
      await sendThroughSigterm(gateway, tally, send, () => expect(goaways).toBe(0));
      expect(goaways).toBeGreaterThan(0);
      expect(sessions).toBeGreaterThan(1);
      expect(await gateway.process.exited).toBe(0);
      session.destroy();
    });
  });
});
