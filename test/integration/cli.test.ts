import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { fetchText } from '../support/http-client.js';
import { until } from '../support/wait.js';

// The CLI is tested as users run it: the built file under plain node (npm test builds first).
const CLI = join(process.cwd(), 'dist/src/cli.js');
// biome-ignore lint/suspicious/noTemplateCurlyInString: the config file's own ${ENV} syntax, not a JS template.
const TOKEN_FROM_ENV = '${FLOODGATE_ADMIN_TOKEN}';

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FLOODGATE_ADMIN_TOKEN: 't' },
  });
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('floodgate CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-cli-'));
  });

  // Both shipped example configs are valid and `check` prints their effective limits.
  it.each(['config/gateway.yaml', 'config/demo.yaml'])('check %s passes', (file) => {
    const result = run('check', file);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${file}: valid`);
    expect(result.stdout).toMatch(/critical +shed when tokens < 1/);
    expect(result.stdout).toContain('admitted bursts leave paced, waiting at most 250 ms');
  });

  // An invalid file exits 2 with one line per problem, naming file and key path.
  it('check exits 2 on an invalid file', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      'regions: { a: { upstreams: ["http://127.0.0.1:1"], capacity: { rps: -1 } } }\nrouting: { default: b }\n',
    );
    const result = run('check', file);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `${file}: regions.a.capacity.rps: must be a positive number`,
    ]);
  });

  // `schema` prints the JSON Schema.
  it('prints the JSON Schema', () => {
    const result = run('schema');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).properties.regions).toBeDefined();
  });

  // Starting with an invalid config exits 2 and starts nothing.
  it('refuses to start on an invalid config', async () => {
    const file = join(dir, 'bad-start.yaml');
    const port = await freePort();
    await writeFile(file, `listen: { port: ${port} }\nregions: {}\nrouting: { default: a }\n`);
    const result = run('--config', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${file}: regions: needs at least one region`);
  });

  // Issue 11: an upstream URL the pool cannot parse passed `check` and made `--config` die with a stack trace.
  it.each(['http://127.0.0.1:70000', 'http://[::1', 'http://a:b:c'])(
    'check and --config refuse the upstream %s with one line',
    async (url) => {
      const file = join(dir, 'bad-url.yaml');
      const port = await freePort();
      await writeFile(
        file,
        stringify({
          listen: { port },
          admin: { port: 0 },
          regions: { a: { upstreams: [url], capacity: { rps: 1 } } },
          routing: { default: 'a' },
        }),
      );
      for (const result of [run('check', file), run('--config', file)]) {
        expect(result.status).toBe(2);
        const lines = result.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^${escapeRegExp(file)}: regions\\.a\\.upstreams\\.0: `));
      }
    },
  );

  // Warnings do not fail a check: exit 0, the summary on stdout, one `warning:` line each on stderr.
  it('check prints warnings and exits 0', async () => {
    const file = join(dir, 'warned.yaml');
    await writeFile(
      file,
      stringify({
        regions: {
          a: { upstreams: ['http://127.0.0.1:1', 'http://127.0.0.1:1/'], capacity: { rps: 100, burst: 1 } },
        },
        routing: { default: 'a' },
        routes: [{ match: { pathPrefix: '/api' } }, { match: { pathPrefix: '/api/v2' }, priority: 'low' }],
      }),
    );
    const result = run('check', file);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${file}: valid`);
    const lines = result.stderr.trim().split('\n');
    expect(lines.map((l) => l.slice(0, l.indexOf(': ', `warning: ${file}: `.length)))).toEqual([
      `warning: ${file}: routes.1`,
      `warning: ${file}: regions.a.upstreams.1`,
      `warning: ${file}: regions.a.capacity.burst`,
    ]);
  });

  // A port already in use is the environment's fault: one line on stderr, exit 1, no stack trace.
  it('reports a port in use in one line', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    const file = join(dir, 'taken.yaml');
    await writeFile(
      file,
      stringify({
        listen: { port },
        admin: { port: 0 },
        regions: { a: { upstreams: ['http://127.0.0.1:1'], capacity: { rps: 1 } } },
        routing: { default: 'a' },
      }),
    );
    const result = run('--config', file);
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      `floodgate: cannot start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
    ]);
  });

  // The last resort: what nothing caught is one JSON `fatal` line with its stack on stdout, after
  // the lines the logger still buffered, then exit 1.
  it.each([
    ['uncaughtException', "setTimeout(() => { throw new Error('boom'); });"],
    ['unhandledRejection', "Promise.reject(new Error('boom'));"],
  ])('logs a fatal line on %s', (kind, crash) => {
    const fatal = pathToFileURL(join(process.cwd(), 'dist/src/observability/fatal.js')).href;
    const pinoUrl = pathToFileURL(join(process.cwd(), 'node_modules/pino/pino.js')).href;
    const script = `
      import { installFatalHandler, flushOnFatal } from '${fatal}';
      import pino from '${pinoUrl}';
      const logger = pino(pino.destination({ dest: 1, sync: false, minLength: 4096 }));
      installFatalHandler();
      flushOnFatal(logger);
      logger.info({ event: 'before' }, 'buffered');
      ${crash}`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('');
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(['before', 'fatal']);
    expect(lines[1]).toMatchObject({ level: 'fatal', event: 'fatal', kind, message: 'boom' });
    expect(lines[1].stack).toMatch(/^Error: boom\n\s+at /);
  });

  describe('a running gateway', () => {
    let upstream: FaultUpstream;
    let child: ChildProcess;
    let publicUrl: string;
    let adminUrl: string;
    let file: string;
    let startedIn: number;
    const config = (rps: number) => ({
      listen: { port: 0 },
      admin: { port: 0, token: TOKEN_FROM_ENV },
      regions: { 'us-east': { upstreams: [upstream.url], capacity: { rps }, timeoutMs: 5000 } },
      routing: { default: 'us-east' },
      shutdownGraceMs: 5000,
    });

    beforeAll(async () => {
      upstream = await startFaultUpstream((req) =>
        req.url === '/slow' ? { kind: 'delay', ms: 3000 } : { kind: 'ok' },
      );
      file = join(dir, 'gateway.yaml');
      const ports = { public: await freePort(), admin: await freePort() };
      const base = config(1000);
      await writeFile(
        file,
        stringify({ ...base, listen: { port: ports.public }, admin: { ...base.admin, port: ports.admin } }),
      );
      publicUrl = `http://127.0.0.1:${ports.public}`;
      adminUrl = `http://127.0.0.1:${ports.admin}`;
      const started = Date.now();
      child = spawn(process.execPath, [CLI, '--config', file], {
        env: { ...process.env, FLOODGATE_ADMIN_TOKEN: 't' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.resume();
      child.stderr!.resume();
      let ready = false;
      while (!ready) {
        ready = await fetchText(`${adminUrl}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (Date.now() - started > 10_000) throw new Error('gateway did not become ready');
        if (!ready) await new Promise((r) => setTimeout(r, 20));
      }
      startedIn = Date.now() - started;
    });

    afterAll(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await upstream?.close();
    });

    // Ready well within the one second budget (generous here for a loaded CI machine).
    it('becomes ready quickly', () => {
      expect(startedIn).toBeLessThan(5000);
    });

    // POST /admin/reload needs the bearer token, applies a valid file and refuses an invalid one.
    it('reloads through the admin port', async () => {
      expect((await fetchText(`${adminUrl}/admin/reload`, { method: 'POST' })).status).toBe(401);
      const auth = { authorization: 'Bearer t' };
      await writeFile(
        file,
        stringify({
          ...config(1000),
          listen: { port: Number(new URL(publicUrl).port) },
          admin: { token: TOKEN_FROM_ENV, port: Number(new URL(adminUrl).port) },
        }),
      );
      const ok = await fetchText(`${adminUrl}/admin/reload`, { method: 'POST', headers: auth });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toEqual({ ok: true, version: 2 });
      await writeFile(file, 'regions: [oops');
      const bad = await fetchText(`${adminUrl}/admin/reload`, { method: 'POST', headers: auth });
      expect(bad.status).toBe(400);
      const info = JSON.parse((await fetchText(`${adminUrl}/admin/config`)).body);
      expect(info.version).toBe(2);
      expect(info.lastError).toContain(file);
      expect((await fetchText(`${publicUrl}/still-serving`)).status).toBe(200);
    });

    // SIGTERM drains: readiness turns 503, the request in flight completes, the process exits 0.
    // A SIGHUP (logrotate) or a second SIGTERM during the drain changes nothing: by Node's default
    // either would end the process at once and cut the request.
    it('drains on SIGTERM and exits 0, whatever signals follow', async () => {
      const inFlight = fetchText(`${publicUrl}/slow`);
      await until(() => upstream.requests.some((r) => r.url === '/slow'));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      let readiness = 200;
      while (readiness === 200) readiness = (await fetchText(`${adminUrl}/readyz`)).status;
      expect(readiness).toBe(503);
      expect(child.exitCode).toBeNull();
      child.kill('SIGHUP');
      child.kill('SIGTERM');
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(await exited).toBe(0);
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
