import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { fetchText } from '../support/http-client.js';
import { spawnCapturing } from '../support/spawn-capturing.js';
import { until } from '../support/wait.js';

// Installs Floodgate the two ways a server does, without dev dependencies, and runs the result.
// Slow (npm, a compile): packages come from npm's cache where they are there (--prefer-offline).

const exec = promisify(execFile);
const INSTALL_TIMEOUT_MS = 150_000;
const NPM_FLAGS = ['--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'];

// The npm_* variables of an enclosing `npm test` would leak its settings into the child npm.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));

function npm(args: string[], cwd: string) {
  return exec('npm', args, { cwd, env: cleanEnv, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 });
}

function floodgate(cli: string, args: string[], cwd: string) {
  return exec(process.execPath, [cli, ...args], { cwd, env: cleanEnv, timeout: 20_000 }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code?: number; stdout?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? '' }),
  );
}

describe('production install', { timeout: INSTALL_TIMEOUT_MS * 2 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-install-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // A fresh clone with `npm ci --omit=dev` builds its bin without the dev dependencies' compiler.
  it('works from a fresh clone', async () => {
    const clone = join(dir, 'clone');
    await exec('git', ['clone', '--quiet', '--no-hardlinks', process.cwd(), clone]);
    await npm(['ci', ...NPM_FLAGS], clone);
    const check = await floodgate('dist/src/cli.js', ['check', 'config/gateway.yaml'], clone);
    expect(check.stdout).toContain('config/gateway.yaml: valid');
    expect(check.code).toBe(0);
  });

  // The `npm pack` tarball installs with its prebuilt dist and serves, dashboard assets included.
  it('works from the npm pack tarball', async () => {
    // The working tree's dist/ is current (npm test builds first): pack it as it is.
    const { stdout } = await npm(['pack', '--ignore-scripts', '--pack-destination', dir], process.cwd());
    const tarball = join(dir, stdout.trim().split('\n').pop()!);
    const project = join(dir, 'project');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{"name":"probe","private":true}\n');
    await npm(['install', ...NPM_FLAGS, tarball], project);
    const bin = join(project, 'node_modules/.bin/floodgate');
    const check = await floodgate(bin, ['check', 'node_modules/floodgate/config/gateway.yaml'], project);
    expect(check.code).toBe(0);

    const config = join(project, 'gateway.yaml');
    await writeFile(
      config,
      stringify({
        listen: { port: 0 },
        admin: { port: 0 },
        regions: { a: { upstreams: ['http://127.0.0.1:9'], capacity: { rps: 10 } } },
        routing: { default: 'a' },
      }),
    );
    const child = spawnCapturing(process.execPath, [bin, '--config', config], {
      cwd: project,
      env: cleanEnv,
    });
    try {
      let admin = '';
      await until(
        () => {
          admin = /"admin":"([^"]+)"/.exec(child.output())?.[1] ?? '';
          return admin !== '';
        },
        20_000,
        'the started line',
      );
      const uplot = await fetchText(`http://${admin}/dashboard/uplot.js`);
      expect(uplot.status).toBe(200);
      expect((await fetchText(`http://${admin}/`)).body).toContain('<html');
    } finally {
      child.child.kill('SIGTERM');
      expect(await child.exited, child.output()).toBe(0);
    }
  });
});
