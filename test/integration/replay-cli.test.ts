import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { accessLog, requests } from '../support/access-log.js';

// The replay command as users run it: the built file under plain node (npm test builds first).
const CLI = join(process.cwd(), 'dist/src/cli.js');

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [CLI, 'replay', ...args], { encoding: 'utf8', input });
}

describe('floodgate replay (the built command)', () => {
  let dir: string;
  let config: string;
  const log = accessLog([...requests(6, { at: 0 }), ...requests(2, { at: 2000 })]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-replay-cli-'));
    config = join(dir, 'gateway.yaml');
    await writeFile(
      config,
      stringify({
        regions: { 'us-east': { upstreams: ['http://127.0.0.1:9'], capacity: { rps: 1, burst: 4 } } },
        routing: { default: 'us-east' },
        routes: [{ match: { pathPrefix: '/' }, priority: 'critical' }],
      }),
    );
    await writeFile(join(dir, 'access.log.gz'), gzipSync(log));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // A log on standard input and the same log gzipped give the same JSON; it never needs the upstream.
  it('replays stdin and gzip files alike', () => {
    const fromStdin = run(['--config', config, '--json', '-'], log);
    const fromGzip = run(['--config', config, '--json', join(dir, 'access.log.gz')]);
    expect(fromStdin.status).toBe(0);
    expect(fromGzip.status).toBe(0);
    // 4 at once from a burst of 4; 2 s later, 2 tokens more.
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({
      requests: 8,
      skipped: 0,
      regions: { 'us-east': { admitted: 6, shed: { rate: 2 } } },
    });
    expect(fromGzip.stdout).toBe(fromStdin.stdout);
  });

  // The readable table is the default.
  it('prints the table', () => {
    const result = run(['--config', config, '-'], log);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('region us-east: 8 requests, 6 admitted, 2 shed (25.0%)');
  });

  // A log that cannot be read, or an invalid config, exits 2 with one line saying so.
  it('exits 2 on an unreadable log or an invalid config', async () => {
    const missing = run(['--config', config, join(dir, 'missing.log')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('missing.log: cannot read the log (ENOENT)');
    const invalid = join(dir, 'invalid.yaml');
    await writeFile(invalid, 'regions: {}\nrouting: { default: a }\n');
    const bad = run(['--config', invalid, '-'], log);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${invalid}: regions: needs at least one region`);
  });
});
