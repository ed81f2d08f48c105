import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, type GatewayConfig, parseConfigText } from '../../src/config/load.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';

const FILE = 'gw.json';
const ENV = { RPS: '50', HOST: '127.0.0.1' };

type Tree = Record<string, unknown>;

/** `${NAME}` written without a string that looks like a forgotten template. */
const placeholder = (name: string) => `\${${name}}`;

/** A valid config touching every section, the starting point for each mutation. */
function validTree(): Tree {
  return {
    listen: { host: '127.0.0.1', port: 0, headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxBodyBytes: 100 },
    admin: { host: placeholder('HOST'), port: 0, token: 'secret' },
    trustedProxies: ['10.0.0.0/8'],
    shutdownGraceMs: 100,
    regions: {
      'us-east': {
        upstreams: ['http://127.0.0.1:9001'],
        capacity: { rps: 100, burst: 10, maxConcurrent: 8, minConcurrent: 2 },
        timeoutMs: 500,
        breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, windowMs: 1000, resetTimeoutMs: 500 },
        failover: ['us-west'],
      },
      'us-west': { upstreams: ['http://127.0.0.1:9002'], capacity: { rps: placeholder('RPS') } },
    },
    routing: { header: 'x-region', default: 'us-east' },
    routes: [
      { match: { pathPrefix: '/api', methods: ['GET'] }, priority: 'high', staleCache: { ttlMs: 1000 } },
    ],
    clientLimit: { key: 'ip', rps: 10, burst: 20, maxKeys: 100 },
    staleCache: { maxBytes: 1000, maxEntryBytes: 100 },
    shedding: { mode: 'enforce', retryAfterSeconds: 1, reserve: { high: 0.1, normal: 0.2, low: 0.3 } },
    surge: { factor: 2, halfLifeMs: 1000, minRps: 1, shedBelow: 'normal' },
    log: { level: 'info' },
  };
}

const KNOWN_KEYS = new Set<string>();
collectKeys(validTree());
for (const key of [
  'keepAliveTimeoutMs',
  'maxHeaderBytes',
  'adaptive',
  'key',
  'windowMs',
  'access',
  'cluster',
  'tls',
  'drainDelayMs',
])
  KNOWN_KEYS.add(key);

function collectKeys(node: unknown): void {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (!Array.isArray(node)) KNOWN_KEYS.add(key);
    collectKeys(value);
  }
}

/** Every object in the tree (with its path), except the regions map, whose keys are names, not schema keys. */
function objectsIn(node: unknown, path: string[] = []): { path: string[]; node: Tree }[] {
  if (node === null || typeof node !== 'object') return [];
  const here = Array.isArray(node) || path.join('.') === 'regions' ? [] : [{ path, node: node as Tree }];
  return [...here, ...Object.entries(node).flatMap(([key, value]) => objectsIn(value, [...path, key]))];
}

/** Sets an own property even for `__proto__`, the way JSON.parse and YAML parsers produce it. */
function setOwn(target: Tree, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
];
const anyKey = fc.oneof(
  fc.constantFrom(...KNOWN_KEYS, ...PROTOTYPE_NAMES, '', 'a.b', 'us-east'),
  fc.string({ unit: 'binary-ascii', maxLength: 10 }),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -1, Number.POSITIVE_INFINITY, 2 ** 53, 0.5)),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(
      placeholder('RPS'),
      placeholder('MISSING'),
      'http://127.0.0.1:1',
      '10.0.0.0/8',
      'us-west',
      'low',
      'ip',
      '',
    ),
    fc.string({ unit: 'binary-ascii', maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.array(fc.tuple(anyKey, tie('value')), { maxLength: 3 }).map((entries) => {
      const out: Tree = {};
      for (const [key, value] of entries) setOwn(out, key, value);
      return out;
    }),
  ),
}));

type Mutation = { kind: 'set' | 'delete' | 'add'; at: number; key: string; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('set', 'delete', 'add'),
  at: fc.nat(),
  key: anyKey,
  value: anyValue,
});

function mutate(tree: Tree, mutations: Mutation[]): Tree {
  for (const m of mutations) {
    const objects = objectsIn(tree);
    const { node } = objects[m.at % objects.length]!;
    const keys = Object.keys(node);
    const existing = keys[m.at % Math.max(1, keys.length)];
    if (m.kind === 'add' || existing === undefined) setOwn(node, m.key, m.value);
    else if (m.kind === 'set') setOwn(node, existing, m.value);
    else delete node[existing];
  }
  return tree;
}

const asText = (tree: Tree, yaml: boolean) => (yaml ? stringify(tree) : JSON.stringify(tree));
const mutatedText = fc
  .tuple(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([mutations, yaml]) => asText(mutate(validTree(), mutations), yaml));

function outcome(text: string): { config?: GatewayConfig; error?: unknown } {
  try {
    return { config: parseConfigText(text, FILE, ENV) };
  } catch (error) {
    return { error };
  }
}

describe('config loader under JSON trees near the schema', () => {
  failOnStrayErrors();

  // The unmutated tree is valid in both encodings, so every mutation starts from an accepted config.
  it('accepts the unmutated tree', () => {
    for (const yaml of [false, true]) expect(outcome(asText(validTree(), yaml)).error).toBeUndefined();
  });

  // A mutated tree gives a config that keeps the schema's promises, or a ConfigError; nothing else.
  it('answers with a sound config or a ConfigError', () => {
    fc.assert(
      fc.property(mutatedText, (text) => {
        const { config, error } = outcome(text);
        if (error !== undefined) {
          expect(error).toBeInstanceOf(ConfigError);
          return;
        }
        const { listen } = config!;
        expect(listen.headersTimeoutMs).toBeLessThanOrEqual(listen.requestTimeoutMs);
        for (const region of Object.values(config!.regions)) {
          expect(Number.isFinite(region.capacity.rps) && region.capacity.rps > 0).toBe(true);
          expect(region.capacity.minConcurrent).toBeLessThanOrEqual(region.capacity.maxConcurrent);
          expect(region.failover).not.toContain(region.name);
        }
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  // Every problem is a single line `FILE: key.path: what is wrong`, whatever characters the keys hold.
  it('reports each problem on one line as FILE: path: problem', () => {
    fc.assert(
      fc.property(mutatedText, (text) => {
        const { error } = outcome(text);
        if (!(error instanceof ConfigError)) return;
        for (const problem of error.problems) expect(problem).toMatch(/^gw\.json: [^\r\n]+: [^\r\n]+$/);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  // A key the schema does not know is an error wherever it appears, including names that exist on Object.prototype.
  it('refuses an unknown key anywhere, __proto__ included', () => {
    const unknownKey = anyKey.filter((key) => !KNOWN_KEYS.has(key));
    fc.assert(
      fc.property(fc.nat(), unknownKey, anyValue, fc.boolean(), (at, key, value, yaml) => {
        const tree = validTree();
        const objects = objectsIn(tree);
        setOwn(objects[at % objects.length]!.node, key, value);
        const { error } = outcome(asText(tree, yaml));
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems.join('\n')).toContain('unknown key');
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  // routing.default and failover entries must name configured regions, never a property every object inherits.
  it('accepts only references to configured regions', () => {
    const name = fc.constantFrom(
      'us-east',
      'us-west',
      'eu',
      'toString',
      'constructor',
      'valueOf',
      'hasOwnProperty',
    );
    fc.assert(
      fc.property(name, fc.array(name, { maxLength: 2 }), fc.boolean(), (target, failover, yaml) => {
        const tree = validTree() as { routing: Tree; regions: Record<string, Tree> };
        tree.routing.default = target;
        tree.regions['us-west']!.failover = failover;
        const { config } = outcome(asText(tree, yaml));
        if (config === undefined) return;
        expect(Object.hasOwn(config.regions, config.routing.default)).toBe(true);
        for (const region of Object.values(config.regions))
          for (const entry of region.failover) expect(Object.hasOwn(config.regions, entry)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
