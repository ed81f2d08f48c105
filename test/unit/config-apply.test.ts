import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { initialRuntime, trialBuild } from '../../src/reloader.js';
import { Runtime } from '../../src/runtime.js';

const FILE = 'config/gateway.yaml';
const base = (upstream: string, extra = '') => `
regions:
  us-east: { upstreams: ["${upstream}"], capacity: { rps: 100 } }
routing: { default: us-east }
${extra}`;

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, FILE, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function build(text: string): void {
  const deps = { clock: () => 0, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };
  const { runtime } = Runtime.build(parseConfigText(text, FILE, {}), 1, undefined, deps);
  for (const region of runtime.regions.values()) void region.close();
}

describe('validation matches what applying does', () => {
  // Issue 11: these passed `check` and then threw `TypeError: Invalid URL` when the pool was made.
  it.each([
    ['http://127.0.0.1:70000', 'port 70000 is out of range (1-65535)'],
    ['http://[::1', 'the IPv6 address has no closing "]"'],
    ['http://a:b:c', 'port "b:c" is not a number'],
  ])('reports %s as a key-path problem', (url, problem) => {
    expect(problemsOf(base(url))).toEqual([`${FILE}: regions.us-east.upstreams.0: "${url}": ${problem}`]);
  });

  // The same inputs, had they been accepted, would throw while the runtime is built: check must never let one through.
  it.each(['http://127.0.0.1:70000', 'http://[::1', 'http://a:b:c'])('%s would throw when applied', (url) => {
    const unchecked = parseConfigText(base('http://127.0.0.1:1'), FILE, {});
    unchecked.regions['us-east']!.upstreams = [url];
    const deps = { clock: () => 0, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };
    expect(() => Runtime.build(unchecked, 1, undefined, deps)).toThrow(/Invalid URL/);
  });

  // What would fail when the listeners bind or timers are armed is a problem line too.
  it.each([
    [
      'the admin port on the public one',
      'listen: { port: 8080 }\nadmin: { port: 8080 }',
      'admin.port: must differ from listen.port (8080): both would bind the same address',
    ],
    [
      'a wildcard public host on the admin port',
      'listen: { host: 0.0.0.0, port: 9000 }\nadmin: { port: 9000 }',
      'admin.port: must differ from listen.port (9000): both would bind the same address',
    ],
    [
      'a bracketed IPv6 host',
      'listen: { host: "[::1]" }',
      'listen.host: must be an IP address (no brackets around IPv6) or a host name, e.g. 0.0.0.0 or ::',
    ],
    [
      'a host with a space',
      'admin: { host: "local host" }',
      'admin.host: must be an IP address (no brackets around IPv6) or a host name, e.g. 0.0.0.0 or ::',
    ],
    [
      'a timeout past what timers can wait',
      'listen: { requestTimeoutMs: 3000000000 }',
      'listen.requestTimeoutMs: must be at most 2000000000 (about 23 days)',
    ],
    [
      'too many client keys to index',
      'clientLimit: { rps: 1, maxKeys: 100000000 }',
      'clientLimit.maxKeys: must be at most 10000000',
    ],
    [
      'a Redis port out of range',
      'cluster: { redis: "redis://127.0.0.1:70000" }',
      'cluster.redis: "redis://127.0.0.1:70000": port 70000 is out of range (1-65535)',
    ],
    [
      'a Redis path that is no database',
      'cluster: { redis: "redis://h:6379/x" }',
      'cluster.redis: "redis://h:6379/x": the path may only be a database number, e.g. redis://host:6379/0',
    ],
  ])('reports %s', (_name, extra, problem) => {
    expect(problemsOf(base('http://127.0.0.1:1', extra))).toEqual([`${FILE}: ${problem}`]);
  });

  // Upstreams are kept as the URL parser (and so the pool) spells them.
  it.each([
    ['http://127.0.0.1:9001/', 'http://127.0.0.1:9001'],
    ['http://0x7f.1:80', 'http://127.0.0.1'],
    ['https://API.internal:443', 'https://api.internal'],
    ['http://[::1]:9001', 'http://[::1]:9001'],
  ])('spells %s as %s', (url, origin) => {
    expect(parseConfigText(base(url), FILE, {}).regions['us-east']!.upstreams).toEqual([origin]);
  });

  // Other things undici accepts but could never use.
  it.each([
    ['http://127.0.0.1:0', 'port 0 cannot be connected to (1-65535)'],
    ['http://user:pw@127.0.0.1:1', 'credentials in an upstream URL are never sent; remove them'],
    ['http://exa%zzmple:1', '"exa%zzmple" is not a host name or address'],
  ])('reports %s', (url, problem) => {
    expect(problemsOf(base(url))).toEqual([`${FILE}: regions.us-east.upstreams.0: "${url}": ${problem}`]);
  });

  // The safety net under validation: a build that throws anyway is a one-line ConfigError, for
  // `check` (trial build) and `--config` (first runtime) alike, never a stack trace.
  it('turns a build that throws into a ConfigError line', async () => {
    const unchecked = parseConfigText(base('http://127.0.0.1:1'), FILE, {});
    unchecked.regions['us-east']!.upstreams = ['http://[::1'];
    const deps = { clock: () => 0, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };
    const expected = [
      `${FILE}: cannot be applied: Invalid URL: "http://[::1": the IPv6 address has no closing "]"`,
    ];
    await expect(trialBuild(FILE, unchecked, deps)).rejects.toMatchObject({ problems: expected });
    expect(() => initialRuntime(FILE, unchecked, deps, undefined)).toThrow(ConfigError);
    await expect(
      trialBuild(FILE, parseConfigText(base('http://127.0.0.1:1'), FILE, {}), deps),
    ).resolves.toBeUndefined();
  });

  // A valid file builds, the largest client index included (lru-cache allocates all of it up front).
  it('builds what it accepts', () => {
    expect(() => build(base('http://127.0.0.1:1'))).not.toThrow();
    expect(() =>
      build(base('http://127.0.0.1:1', 'clientLimit: { rps: 1, maxKeys: 10000000 }')),
    ).not.toThrow();
  });
});
