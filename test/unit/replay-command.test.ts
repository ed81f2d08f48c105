import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { replayCommand } from '../../src/replay/replay-command.js';
import { accessLog, requests } from '../support/access-log.js';

let dir: string;
let config: string;
let roomy: string;
let log: string;

function configFile(burst: number): string {
  return stringify({
    regions: { 'us-east': { upstreams: ['http://127.0.0.1:9'], capacity: { rps: 1, burst } } },
    routing: { default: 'us-east' },
    // Critical has no reserve, so the bucket's whole burst is what is admitted at once.
    routes: [{ match: { pathPrefix: '/' }, priority: 'critical' }],
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'floodgate-replay-cli-'));
  config = join(dir, 'gateway.yaml');
  roomy = join(dir, 'roomy.yaml');
  log = join(dir, 'access.log');
  await writeFile(config, configFile(5));
  await writeFile(roomy, configFile(8));
  await writeFile(log, accessLog(requests(10, { at: 0 })));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], stdinText = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stdin = Readable.from([Buffer.from(stdinText)], { objectMode: false });
  const code = await replayCommand(args, { stdout, stderr, stdin });
  return { code, out, err };
}

describe('floodgate replay (in process)', () => {
  // --json prints the one object of the contract.
  it('prints JSON', async () => {
    const { code, out, err } = await run(['--config', config, '--json', log]);
    expect(code).toBe(0);
    // How fast it ran goes to standard error, so standard output is the JSON alone.
    expect(err).toMatch(/^replay took \d+ ms: [\d,]+ lines per second$/m);
    expect(JSON.parse(out)).toMatchObject({
      requests: 10,
      skipped: 0,
      regions: { 'us-east': { admitted: 5 } },
    });
  });

  // `-` reads standard input.
  it('reads standard input for -', async () => {
    const { code, out } = await run(['--config', config, '--json', '-'], accessLog(requests(3, { at: 0 })));
    expect(code).toBe(0);
    expect(JSON.parse(out).requests).toBe(3);
  });

  // --compare prints both configs and the difference; with --json, the other config's summary sits under `compare`.
  it('compares with another config', async () => {
    const text = await run(['--config', config, '--compare', roomy, log]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/admitted +5 +8 +\+3/);
    const json = JSON.parse((await run(['--config', config, '--compare', roomy, '--json', log])).out);
    expect(json.regions['us-east'].admitted).toBe(5);
    expect(json.compare).toMatchObject({ config: roomy, regions: { 'us-east': { admitted: 8 } } });
  });

  // --chart writes an SVG file.
  it('writes the chart', async () => {
    const chart = join(dir, 'replay.svg');
    expect((await run(['--config', config, '--chart', chart, log])).code).toBe(0);
    expect(await readFile(chart, 'utf8')).toContain('us-east: requests per second');
  });

  // Exit 2 when a config is invalid (one line per problem) or a log cannot be read; 64 for bad usage.
  it.each([
    [['--config', 'bad.yaml', 'access.log'], 2, /cannot read the file/],
    [['--config', 'CONFIG', '--compare', 'bad.yaml', 'access.log'], 2, /bad\.yaml: cannot read the file/],
    [['--config', 'CONFIG', 'missing.log'], 2, /missing\.log: cannot read the log \(ENOENT\)/],
    [['--config', 'CONFIG'], 64, /at least one LOG/],
    [['access.log'], 64, /--config FILE is required/],
    [['--config', 'CONFIG', '--bogus', 'access.log'], 64, /bogus/],
    [['--config', 'CONFIG', '-', 'access.log', '-'], 64, /standard input \(-\) can be read only once/],
  ])('exits with the right status for %j', async (args, status, message) => {
    const resolved = args.map((a) =>
      a === 'CONFIG' ? config : a.endsWith('.yaml') || a.endsWith('.log') ? join(dir, a) : a,
    );
    const { code, err } = await run(resolved);
    expect(code).toBe(status);
    expect(err).toMatch(message);
  });

  // An invalid config names the file and key path, as `check` does.
  it('reports an invalid config by key path', async () => {
    const invalid = join(dir, 'invalid.yaml');
    await writeFile(
      invalid,
      'regions: { a: { upstreams: ["http://127.0.0.1:1"], capacity: { rps: -1 } } }\nrouting: { default: a }\n',
    );
    const { code, err } = await run(['--config', invalid, log]);
    expect(code).toBe(2);
    expect(err.trim()).toBe(`${invalid}: regions.a.capacity.rps: must be a positive number`);
  });
});
