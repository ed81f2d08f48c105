import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { spawnCapturing } from '../support/spawn-capturing.js';

// node:cluster forks a JavaScript file, so these tests run the built command line (`npm test`
// builds it first); a build older than the sources is rebuilt here.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli.js');
const WORKER_MAIN = join(ROOT, 'dist/src/cluster/worker-main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const built = [CLI, WORKER_MAIN].every(existsSync);
  if (built && statSync(WORKER_MAIN).mtimeMs >= newestSource(join(ROOT, 'src'))) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; the files are checked below.
  }
  if (!existsSync(WORKER_MAIN)) throw new Error('the build did not produce dist/src/cluster/worker-main.js');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

interface Group {
  child: ChildProcess;
  publicUrl: string;
  adminUrl: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startGroup(configPath: string, port: number, adminPort: number): Promise<Group> {
  const { child, output, exited } = spawnCapturing(process.execPath, [
    CLI,
    '--config',
    configPath,
    '--workers',
    '2',
  ]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`floodgate exited (${child.exitCode}): ${output()}`);
    if (Date.now() > deadline) throw new Error(`floodgate did not get ready: ${output()}`);
    const ready = await getText(`${adminUrl}/readyz`).catch(() => undefined);
    if (ready?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, publicUrl: `http://127.0.0.1:${port}`, adminUrl, output, exited };
}

async function getText(url: string, init: { method?: 'GET' | 'POST'; dispatcher?: Agent } = {}) {
  const res = await request(url, { method: init.method ?? 'GET', dispatcher: init.dispatcher });
  return { status: res.statusCode, body: await res.body.text() };
}

/** `count` GETs one after another, each on a new connection, so node:cluster spreads them over the workers. */
async function sendOnNewConnections(url: string, count: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const agent = new Agent({ pipelining: 0 });
    const res = await getText(url, { dispatcher: agent });
    if (res.status === 200) ok++;
    await agent.close();
  }
  return ok;
}

async function eventually<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('floodgate --workers 2', () => {
  let dir: string;
  let configPath: string;
  let upstream: FaultUpstream;
  let group: Group;
  let admitted = 0;
  const config = (rps: number) => ({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    regions: { 'us-east': { upstreams: [upstream.url], capacity: { rps, burst: 20 }, timeoutMs: 2000 } },
    routing: { default: 'us-east' },
    // Critical traffic may spend every token, so the whole burst shows in the count.
    routes: [{ match: { pathPrefix: '/' }, priority: 'critical' }],
    shutdownGraceMs: 2000,
    // Long enough for a reload to be asked for while the workers drain.
    drainDelayMs: 1500,
    log: { level: 'info' },
  });

  beforeAll(async () => {
    ensureBuilt();
    upstream = await startFaultUpstream();
    dir = await mkdtemp(join(tmpdir(), 'floodgate-workers-'));
    configPath = join(dir, 'gateway.yaml');
    const [port, adminPort] = [await freePort(), await freePort()];
    const first = config(1);
    await writeFile(
      configPath,
      stringify({ ...first, listen: { ...first.listen, port }, admin: { port: adminPort } }),
    );
    group = await startGroup(configPath, port, adminPort);
  }, 120_000);

  afterAll(async () => {
    if (group?.child.exitCode === null) group.child.kill('SIGKILL');
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('splits the limits between the workers: the group admits the configured burst, not twice it', async () => {
    // rps 1, burst 20 split over two workers: 60 requests spread over both admit about 20 in all.
    const started = Date.now();
    admitted = await sendOnNewConnections(group.publicUrl, 60);
    const seconds = (Date.now() - started) / 1000;
    expect(admitted).toBeGreaterThanOrEqual(18);
    expect(admitted).toBeLessThanOrEqual(20 + Math.ceil(seconds) + 1);
  });

  it('sums the requests of every worker on the admin port', async () => {
    // /metrics (asked of the workers live) and /admin/regions (pushed by them) both count every request.
    const metrics = await getText(`${group.adminUrl}/metrics`);
    expect(metrics.body).toContain(
      `floodgate_requests_total{region="us-east",outcome="forwarded"} ${admitted}`,
    );
    expect(metrics.body).toContain(
      `floodgate_requests_total{region="us-east",outcome="shed"} ${60 - admitted}`,
    );
    expect(metrics.body).toMatch(/^floodgate_workers 2$/m);
    const regions = await eventually(
      async () => JSON.parse((await getText(`${group.adminUrl}/admin/regions`)).body),
      (body) => body.regions['us-east'].outcomes.forwarded + body.regions['us-east'].outcomes.shed === 60,
    );
    expect(regions.regions['us-east'].outcomes).toEqual({
      forwarded: admitted,
      failover: 0,
      stale: 0,
      shed: 60 - admitted,
      error: 0,
      local: 0,
    });
  });

  it('reloads every worker from one POST', async () => {
    // The new rate reaches both workers: the group's view shows it and the version moves to 2.
    const current = config(50);
    const port = Number(new URL(group.publicUrl).port);
    const adminPort = Number(new URL(group.adminUrl).port);
    await writeFile(
      configPath,
      stringify({ ...current, listen: { ...current.listen, port }, admin: { port: adminPort } }),
    );
    const reload = await getText(`${group.adminUrl}/admin/reload`, { method: 'POST' });
    expect(JSON.parse(reload.body)).toEqual({ ok: true, version: 2 });
    expect(JSON.parse((await getText(`${group.adminUrl}/admin/config`)).body).version).toBe(2);
    const regions = await eventually(
      async () => JSON.parse((await getText(`${group.adminUrl}/admin/regions`)).body),
      (body) => body.regions['us-east'].rps === 50,
    );
    expect(regions.regions['us-east'].rps).toBe(50);
  });

  it('drains every worker on SIGTERM and exits 0, having served through both', async () => {
    // A clean exit; the access lines written by the workers name two different workers.
    group.child.kill('SIGTERM');
    // A reload during the drain is not applied, and is not a rejected file: the alert stays quiet.
    const reload = await eventually(
      () => getText(`${group.adminUrl}/admin/reload`, { method: 'POST' }),
      (res) => res.status !== 200,
    );
    expect(reload.status).toBe(503);
    expect(JSON.parse(reload.body)).toMatchObject({ ok: false, shuttingDown: true });
    const metrics = (await getText(`${group.adminUrl}/metrics`)).body;
    expect(metrics).toMatch(/^floodgate_config_reload_total\{result="rejected"\} 0$/m);
    expect(JSON.parse((await getText(`${group.adminUrl}/admin/config`)).body).lastError).toBeNull();
    expect(await group.exited).toBe(0);
    const workers = new Set(
      group
        .output()
        .split('\n')
        .filter((line) => line.includes('"outcome"'))
        .map((line) => (JSON.parse(line) as { worker: number }).worker),
    );
    expect(workers.size).toBe(2);
  });
});

describe('floodgate --workers with bad input', () => {
  it('refuses a worker count that is not a number', () => {
    // A usage error (status 64) names the flag, and nothing starts.
    ensureBuilt();
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [CLI, '--config', 'unused.yaml', '--workers', 'many'], {
        stdio: 'pipe',
      });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(64);
    expect(stderr).toContain('--workers');
  });

  it('exits 2 on an invalid config before forking any worker', async () => {
    // The primary validates the file first: status 2, one line naming the problem.
    ensureBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'floodgate-workers-bad-'));
    const path = join(dir, 'gateway.yaml');
    await writeFile(path, stringify({ regions: {}, routing: { default: 'nowhere' } }));
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, [CLI, '--config', path, '--workers', '2'], { stdio: 'pipe' });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    await rm(dir, { recursive: true, force: true });
    expect(status).toBe(2);
    expect(stderr).toContain(`${path}: regions`);
  });
});
