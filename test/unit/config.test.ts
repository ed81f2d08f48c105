import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';

const FILE = 'config/gateway.yaml';
const MINIMAL = `
regions:
  us-east: { upstreams: ["http://127.0.0.1:9001"], capacity: { rps: 100 } }
  us-west: { upstreams: ["http://127.0.0.1:9002"], capacity: { rps: 50 } }
routing: { default: us-east }
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, FILE, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config loading', () => {
  // A minimal file gets every documented default, including the ones that depend on other fields.
  it('fills defaults', () => {
    const config = parseConfigText(MINIMAL, FILE, {});
    const east = config.regions['us-east']!;
    expect(east.capacity).toEqual({
      rps: 100,
      burst: 100,
      maxConcurrent: 256,
      adaptive: false,
      minConcurrent: 8,
      paceMaxWaitMs: 250,
    });
    expect(east.timeoutMs).toBe(5000);
    expect(east.breaker).toEqual({
      errorThresholdPercentage: 50,
      volumeThreshold: 20,
      windowMs: 10000,
      resetTimeoutMs: 5000,
    });
    expect(config.listen).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      headersTimeoutMs: 10000,
      maxBodyBytes: 10485760,
    });
    expect(config.shedding).toEqual({
      mode: 'enforce',
      retryAfterSeconds: 1,
      reserve: { high: 0.1, normal: 0.25, low: 0.5 },
    });
    expect(config.routing.header).toBe('x-region');
    expect(config.staleCache.maxBytes).toBe(64 * 1024 * 1024);
  });

  // Each bad input yields exactly the problem lines an operator needs: file, key path, what is wrong.
  it.each([
    [
      'a negative rate',
      MINIMAL.replace('rps: 100', 'rps: -5'),
      [`${FILE}: regions.us-east.capacity.rps: must be a positive number`],
    ],
    [
      'a typo in a key',
      MINIMAL.replace('capacity: { rps: 100 }', 'capacity: { rps: 100, brust: 5 }'),
      [`${FILE}: regions.us-east.capacity.brust: unknown key`],
    ],
    ['an unknown top-level key', `${MINIMAL}\nlisten_port: 8080\n`, [`${FILE}: listen_port: unknown key`]],
    [
      'a missing rate',
      MINIMAL.replace('capacity: { rps: 100 }', 'capacity: {}'),
      [`${FILE}: regions.us-east.capacity.rps: is required`],
    ],
    [
      'missing upstreams',
      MINIMAL.replace('upstreams: ["http://127.0.0.1:9001"], ', ''),
      [`${FILE}: regions.us-east.upstreams: is required`],
    ],
    [
      'a default naming no region',
      MINIMAL.replace('default: us-east', 'default: eu-central'),
      [`${FILE}: routing.default: names no configured region "eu-central" (have us-east, us-west)`],
    ],
    [
      'failover to itself',
      MINIMAL.replace('capacity: { rps: 100 } }', 'capacity: { rps: 100 }, failover: [us-east] }'),
      [`${FILE}: regions.us-east.failover.0: a region may not fail over to itself`],
    ],
    [
      // A dotted region name is quoted, so the path cannot read as region `eu`'s key `west`.
      'failover to itself, in a region with a dot in its name',
      `${MINIMAL}`
        .replace('us-west:', 'eu.west:')
        .replace('capacity: { rps: 50 } }', 'capacity: { rps: 50 }, failover: [eu.west] }'),
      [`${FILE}: regions."eu.west".failover.0: a region may not fail over to itself`],
    ],
    [
      // The name is the map's key: the problem names it and says what a name may be.
      'a region name with a space and a "!"',
      MINIMAL.replace('us-west:', '"us west!":'),
      [
        `${FILE}: regions."us west!": invalid region name: must start with a letter or digit, then only letters, digits, ".", "_" or "-"`,
      ],
    ],
    [
      'a region name starting with "-"',
      MINIMAL.replace('us-west:', '-west:'),
      [
        `${FILE}: regions.-west: invalid region name: must start with a letter or digit, then only letters, digits, ".", "_" or "-"`,
      ],
    ],
    [
      'failover to nowhere',
      MINIMAL.replace('capacity: { rps: 100 } }', 'capacity: { rps: 100 }, failover: [us-west, mars] }'),
      [`${FILE}: regions.us-east.failover.1: names no configured region "mars"`],
    ],
    [
      'headers timeout over request timeout',
      `${MINIMAL}listen: { headersTimeoutMs: 40000, requestTimeoutMs: 30000 }\n`,
      [`${FILE}: listen.headersTimeoutMs: must not exceed listen.requestTimeoutMs (30000)`],
    ],
    [
      'an upstream with a path',
      MINIMAL.replace('"http://127.0.0.1:9001"', '"http://127.0.0.1:9001/api"'),
      [
        `${FILE}: regions.us-east.upstreams.0: must be an http:// or https:// origin without a path, e.g. http://10.0.0.1:9001`,
      ],
    ],
    [
      'a bad priority',
      `${MINIMAL}routes: [{ match: { pathPrefix: /v }, priority: urgent }]\n`,
      [`${FILE}: routes.0.priority: must be one of critical, high, normal, low`],
    ],
    [
      'a string port',
      `${MINIMAL}listen: { port: eighty }\n`,
      [`${FILE}: listen.port: must be a port number (0-65535)`],
    ],
    [
      'inverted reserves',
      `${MINIMAL}shedding: { reserve: { high: 0.6 } }\n`,
      [
        `${FILE}: shedding.reserve: must keep high <= normal <= low, or lower priorities would outrank higher ones`,
      ],
    ],
    [
      'min over max concurrency',
      MINIMAL.replace('rps: 100', 'rps: 100, maxConcurrent: 4, minConcurrent: 6'),
      [`${FILE}: regions.us-east.capacity.minConcurrent: must not exceed maxConcurrent (4)`],
    ],
    [
      'a negative pacing wait',
      MINIMAL.replace('rps: 100', 'rps: 100, paceMaxWaitMs: -1'),
      [`${FILE}: regions.us-east.capacity.paceMaxWaitMs: must be a whole number >= 0`],
    ],
    [
      'a bad client key',
      `${MINIMAL}clientLimit: { key: cookie, rps: 5 }\n`,
      [`${FILE}: clientLimit.key: must be "ip" or "header:NAME"`],
    ],
  ])('reports %s', (_name, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  // Several problems are reported together, one line each, rather than one per run.
  it('reports every problem at once', () => {
    const text = MINIMAL.replace('rps: 100', 'rps: 0').replace('rps: 50', 'rps: 50, extra: 1');
    expect(problemsOf(text)).toEqual([
      `${FILE}: regions.us-east.capacity.rps: must be a positive number`,
      `${FILE}: regions.us-west.capacity.extra: unknown key`,
    ]);
  });

  // YAML syntax errors name the file and position.
  it('reports syntax errors with their line', () => {
    const [problem] = problemsOf('regions: { us-east: [\n');
    expect(problem).toMatch(/^config\/gateway\.yaml: line \d+, column \d+: /);
  });

  // Environment interpolation fills strings, types whole-value numbers, and names a missing variable.
  it('interpolates environment variables', () => {
    const text = `${MINIMAL}admin: { token: "\${ADMIN_TOKEN}", port: "\${ADMIN_PORT}" }\n`;
    const config = parseConfigText(text, FILE, { ADMIN_TOKEN: 's3cret', ADMIN_PORT: '9911' });
    expect(config.admin.token).toBe('s3cret');
    expect(config.admin.port).toBe(9911);
    expect(problemsOf(text, { ADMIN_PORT: '1' })).toEqual([
      `${FILE}: admin.token: environment variable ADMIN_TOKEN is not set`,
    ]);
  });

  // A whole-value variable that reads as a number or boolean stays text where the key wants a
  // string: a digit-only token, `true`, a prefix `007` (not 7). Numbers still go where numbers go.
  it('keeps a variable as text where the key wants a string, whatever it looks like', () => {
    const text = `${MINIMAL}admin: { token: "\${T}", port: "\${P}" }\ncluster: { redis: "redis://127.0.0.1:6379", keyPrefix: "\${K}" }\n`;
    const config = parseConfigText(text, FILE, { T: '20261201', P: '9911', K: '007' });
    expect(config.admin.token).toBe('20261201');
    expect(config.admin.port).toBe(9911);
    expect(config.cluster!.keyPrefix).toBe('007');
    expect(parseConfigText(text, FILE, { T: 'true', P: '1', K: 'x' }).admin.token).toBe('true');
    expect(problemsOf(text, { T: 't', P: 'true', K: 'x' })).toEqual([
      `${FILE}: admin.port: must be a port number (0-65535)`,
    ]);
  });

  // A variable's value is data, never YAML structure.
  it('does not let a variable inject structure', () => {
    const text = `${MINIMAL}admin: { token: "x-\${T}" }\n`;
    const config = parseConfigText(text, FILE, { T: '"\nlisten: {port: 1}' });
    expect(config.admin.token).toBe('x-"\nlisten: {port: 1}');
    expect(config.listen.port).toBe(8080);
  });

  // JSON files use the same schema.
  it('accepts JSON', () => {
    const json = JSON.stringify({
      regions: { a: { upstreams: ['http://127.0.0.1:1'], capacity: { rps: 1 } } },
      routing: { default: 'a' },
    });
    expect(parseConfigText(json, 'g.json', {}).regions.a!.capacity.burst).toBe(1);
  });

  // The JSON Schema comes from the same source and forbids unknown keys.
  it('exports a strict JSON Schema', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, { additionalProperties?: boolean }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['regions', 'routing']));
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['listen', 'admin', 'regions', 'routes', 'shedding', 'surge', 'clientLimit']),
    );
  });
});
