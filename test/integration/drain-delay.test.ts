import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { type CapturedProcess, spawnCapturing } from '../support/spawn-capturing.js';
import { until } from '../support/wait.js';

// drainDelayMs as a load balancer sees it: after SIGTERM, /readyz is 503 at once while the public
// port keeps accepting and answering; keep-alive answers say `connection: close`; afterwards the
// port closes and the process exits 0. The CLI is run as users run it (npm test builds first).

const CLI = join(process.cwd(), 'dist/src/cli.js');
const DELAY_MS = 3000;
/** How long the client keeps sending after SIGTERM: well inside the delay, even on a busy machine. */
const SEND_FOR_MS = 1500;

interface Tally {
  ok: number;
  failed: string[];
  keepAliveCloses: number;
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
  let gateway: CapturedProcess;
  let dir: string;
  let publicUrl = '';
  let adminUrl = '';

  beforeAll(async () => {
    upstream = await startFaultUpstream({ kind: 'ok' });
    dir = await mkdtemp(join(tmpdir(), 'floodgate-drain-'));
    const file = join(dir, 'gateway.yaml');
    await writeFile(
      file,
      stringify({
        listen: { port: 0, keepAliveTimeoutMs: 30_000 },
        admin: { port: 0 },
        regions: { a: { upstreams: [upstream.url], capacity: { rps: 100_000 } } },
        routing: { default: 'a' },
        drainDelayMs: DELAY_MS,
        shutdownGraceMs: 2000,
        log: { access: false },
      }),
    );
    gateway = spawnCapturing(process.execPath, [CLI, '--config', file]);
    await until(() => gateway.output().includes('"event":"started"'), 10_000, 'the started line');
    const started = JSON.parse(
      gateway
        .output()
        .split('\n')
        .find((l) => l.includes('"started"'))!,
    );
    publicUrl = `http://${started.listen}`;
    adminUrl = `http://${started.admin}`;
  });

  afterAll(async () => {
    if (gateway?.child.exitCode === null) gateway.child.kill('SIGKILL');
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // A client sending steadily through SIGTERM, on keep-alive and on fresh connections, loses nothing.
  it('keeps serving through the delay with 0 refused connections, then closes the port', async () => {
    const agent = new Agent({ connections: 2, keepAliveTimeout: 30_000 });
    const tally: Tally = { ok: 0, failed: [], keepAliveCloses: 0 };
    const send = async () => {
      try {
        const res = await request(`${publicUrl}/kept`, { dispatcher: agent });
        await res.body.text();
        if (res.statusCode === 200) tally.ok++;
        else tally.failed.push(`keep-alive ${res.statusCode}`);
        if (res.headers.connection === 'close') tally.keepAliveCloses++;
        const fresh = await freshConnectionGet(publicUrl);
        if (fresh === 200) tally.ok++;
        else tally.failed.push(`fresh ${fresh}`);
      } catch (err) {
        tally.failed.push(`${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    for (let i = 0; i < 20; i++) await send();
    expect(tally.keepAliveCloses).toBe(0);

    const exited = gateway.exited;
    const signalledAt = Date.now();
    gateway.child.kill('SIGTERM');
    await until(() => gateway.output().includes('"event":"shutdown-began"'), 5000, 'shutdown-began');
    expect((await fetchText(`${adminUrl}/readyz`)).status).toBe(503);
    const okBefore = tally.ok;
    while (Date.now() - signalledAt < SEND_FOR_MS) await send();

    expect(tally.failed).toEqual([]);
    expect(tally.ok - okBefore).toBeGreaterThan(10);
    expect(tally.keepAliveCloses).toBeGreaterThan(0);
    expect(await exited).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(DELAY_MS - 100);
    // Once the delay is over the port is closed: nothing is listening any more.
    await expect(freshConnectionGet(publicUrl)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await agent.close();
  });
});
