import fc from 'fast-check';
import pino from 'pino';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LocalShare } from '../../src/cluster/limits-policy.js';
import { ConfigError, type GatewayConfig, parseConfigText } from '../../src/config/load.js';
import { parseUpstreamOrigin } from '../../src/config/origins.js';
import { summarizeConfig } from '../../src/config/summary.js';
import { configWarnings } from '../../src/config/warnings.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { type Retired, Runtime } from '../../src/runtime.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';

// What `check` accepts, applying never refuses: configs generated at the edges of every bound,
// reference and URL go through the validation `check` runs and, when accepted, through building the
// runtime with real pools, breakers and buckets, both from nothing and as a reload.

const FILE = 'gw.yaml';
const RUNS = 2000;

const MAX_TIMER = 2_000_000_000;
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

// In range, and often right at a bound: the values applying must cope with.
const timerMs = fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(1, 2, 999, MAX_TIMER));
const rate = fc.oneof(
  fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
  fc.constantFrom(1e-9, 0.5, 1, 1.5, 2, 1e9, Number.MAX_VALUE),
);
const count = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(1, 2, 2 ** 31, 2 ** 53 - 1));
const goodHost = fc.constantFrom(
  ...['127.0.0.1', 'localhost', 'api.internal', '[::1]', '[::ffff:127.0.0.1]', '0x7f.1', '1.2.3'],
  ...['ex%41mple', 'xn--bcher-kva', 'bücher.example', 'a_b', 'A.EXAMPLE.'],
);
const goodPort = fc.oneof(
  fc.constantFrom('', ':', ':1', ':80', ':443', ':65535', ':01'),
  fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`),
);
const goodUpstream = fc
  .tuple(fc.constantFrom('http://', 'https://'), goodHost, goodPort, fc.constantFrom('', '/'))
  .map((parts) => parts.join(''));
const fraction = fc.constantFrom(0, 0.001, 0.1, 0.25, 0.5, 0.9, 0.999999);
const goodCidr = fc.constantFrom(
  '10.0.0.0/8',
  '::/0',
  'fd00::/8',
  '1.2.3.4',
  'fe80::1',
  '0.0.0.0/0',
  '::ffff:1.2.3.4/128',
);
const goodListenHost = fc.constantFrom('127.0.0.1', '0.0.0.0', '::', 'localhost', '::1');
const goodPrefix = fc.constantFrom('/', '/api', '/api/v1', '/ä', '/%2e', '/api/');
const methods = fc.array(fc.constantFrom('GET', 'POST', 'HEAD', 'FOO', 'DELETE'), { maxLength: 3 });
const priority = fc.constantFrom('critical', 'high', 'normal', 'low');
const NAMES = ['us-east', 'us-west', 'eu', 'constructor'];

const region = (names: string[], self: string) =>
  fc.record(
    {
      upstreams: fc.array(goodUpstream, { minLength: 1, maxLength: 3 }),
      capacity: fc
        .record({
          rps: rate,
          burst: maybe(rate),
          adaptive: maybe(fc.boolean()),
          bounds: maybe(fc.tuple(count, count)),
        })
        .map(({ bounds, ...capacity }) =>
          bounds === undefined
            ? capacity
            : { ...capacity, minConcurrent: Math.min(...bounds), maxConcurrent: Math.max(...bounds) },
        ),
      timeoutMs: maybe(timerMs),
      breaker: maybe(
        fc.record(
          {
            errorThresholdPercentage: maybe(fc.constantFrom(0.001, 1, 50, 100)),
            volumeThreshold: maybe(fc.constantFrom(0, 1, 20, 2 ** 31)),
            windowMs: maybe(
              fc.oneof(
                timerMs.filter((ms) => ms >= 100),
                fc.constantFrom(100, 101, 997),
              ),
            ),
            resetTimeoutMs: maybe(timerMs),
          },
          { requiredKeys: [] },
        ),
      ),
      failover: maybe(fc.subarray(names.filter((n) => n !== self))),
    },
    { requiredKeys: ['upstreams', 'capacity'] },
  );

const route = fc.record(
  {
    match: fc.record({ pathPrefix: goodPrefix, methods: maybe(methods) }, { requiredKeys: ['pathPrefix'] }),
    priority: maybe(priority),
    staleCache: maybe(fc.record({ ttlMs: maybe(timerMs) }, { requiredKeys: [] })),
  },
  { requiredKeys: ['match'] },
);

const listener = (ports: number[]) =>
  fc.record({ host: maybe(goodListenHost), port: maybe(fc.constantFrom(...ports)) });

/** A config every part of which is in range, at the edges of the ranges wherever possible. */
const validTree = fc.subarray(NAMES, { minLength: 1 }).chain((names) =>
  fc.record(
    {
      listen: maybe(
        fc.tuple(listener([0, 8080, 65535]), timerMs, timerMs).map(([l, a, b]) => ({
          ...l,
          headersTimeoutMs: Math.min(a, b),
          requestTimeoutMs: Math.max(a, b),
        })),
      ),
      admin: maybe(listener([0, 9901])),
      trustedProxies: maybe(fc.array(goodCidr, { maxLength: 2 })),
      shutdownGraceMs: maybe(fc.oneof(fc.constant(0), timerMs)),
      regions: fc.record(Object.fromEntries(names.map((n) => [n, region(names, n)]))),
      routing: fc.record({
        default: fc.constantFrom(...names),
        header: maybe(fc.constantFrom('x-region', 'X-Home')),
      }),
      routes: maybe(fc.array(route, { maxLength: 4 })),
      clientLimit: maybe(
        fc.record(
          {
            key: maybe(fc.constantFrom('ip', 'header:x-api-key', 'header:Host')),
            rps: rate,
            burst: maybe(rate),
            // Always small: lru-cache allocates every slot up front (the default 100000 takes 12 ms, the
            // largest allowed, ten million, a second and 280 MB: config-apply.test.ts builds that one).
            maxKeys: fc.constantFrom(1, 2, 256, 257, 4096),
          },
          { requiredKeys: ['rps'] },
        ),
      ),
      staleCache: maybe(
        fc.record({ maxBytes: maybe(count), maxEntryBytes: maybe(count) }, { requiredKeys: [] }),
      ),
      shedding: maybe(
        fc.record({
          mode: fc.constantFrom('enforce', 'shadow'),
          retryAfterSeconds: fc.constantFrom(1, 2 ** 31),
          reserve: fc.tuple(fraction, fraction, fraction).map((r) => {
            const [high, normal, low] = r.sort((x, y) => x - y);
            return { high, normal, low };
          }),
        }),
      ),
      surge: maybe(
        fc.record(
          {
            factor: maybe(fc.constantFrom(1.0001, 2, 1e9)),
            halfLifeMs: maybe(timerMs),
            minRps: maybe(rate),
            windowMs: maybe(fc.constantFrom(1000, 2500, 5000)),
            shedBelow: maybe(priority),
          },
          { requiredKeys: [] },
        ),
      ),
      cluster: maybe(
        fc.record(
          {
            redis: maybe(fc.constantFrom('redis://127.0.0.1:6379', 'rediss://h/0', 'redis://:pw@[::1]:1/15')),
            instances: maybe(fc.constantFrom(1, 3, 1024)),
            leaseSize: maybe(count),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: ['regions', 'routing'] },
  ),
);

// Out of range, malformed or dangling: what a mutation writes over one leaf of a valid tree.
const hostile = fc.oneof(
  fc.constantFrom(0, -1, 0.5, 1e308, 2 ** 53, MAX_TIMER + 1, 2 ** 31, 65536, 10_000_001, 1.00001),
  fc.constantFrom('http://127.0.0.1:70000', 'http://[::1', 'http://a:b:c', 'http://a:0', 'http://u:p@h'),
  fc.constantFrom('http://h/x', 'ftp://h', 'http://%zz', 'http://a b', 'http://[::1]x', 'redis://h:70000'),
  fc.constantFrom('redis://[::1', 'redis://', '10.0.0.0/33', '::/129', '[::1]', 'a b', '', 'mars', 'us-east'),
  fc.constantFrom('us-west', 'constructor', '__proto__', 'toString', 'api', 'get', 'FOO', true, null),
  fc.constant([]),
);

type Tree = Record<string, unknown>;

function leaves(node: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (node === null || typeof node !== 'object') return [path];
  const entries = Object.entries(node);
  return entries.length === 0 ? [path] : entries.flatMap(([k, v]) => leaves(v, [...path, k]));
}

function setAt(tree: Tree, path: (string | number)[], value: unknown): void {
  if (path.length === 0) return;
  let node = tree as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
}

/** A valid tree with zero to two leaves overwritten, as YAML or JSON. */
const config = fc
  .tuple(validTree, fc.array(fc.tuple(fc.nat(), hostile), { maxLength: 2 }), fc.boolean())
  .map(([tree, mutations, yaml]) => {
    const copy = structuredClone(tree) as Tree;
    for (const [at, value] of mutations) {
      const paths = leaves(copy);
      setAt(copy, paths[at % paths.length]!, value);
    }
    return yaml ? stringify(copy) : JSON.stringify(copy);
  });

const upstream = fc.oneof(
  goodUpstream,
  fc
    .tuple(
      fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', 'http:/', 'http:///'),
      fc.oneof(
        goodHost,
        fc.constantFrom('256.1.1.1', '[::1', '::1', 'a:b', 'exa%zz', '', '[]', 'a@b', 'u:p@h', '%00'),
      ),
      fc.oneof(goodPort, fc.constantFrom(':0', ':65536', ':70000', ':b:c', ':-1', ':1e3')),
      fc.constantFrom('', '/', '/x', '?', '#', ' ', '/?a'),
    )
    .map((parts) => parts.join('')),
);

const deps = { clock: () => 1_000, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };

/** The runtime a reload replaces: every generated region name exists in it, with live pools. */
const PREVIOUS_TEXT = `
regions:
  us-east: { upstreams: ["http://127.0.0.1:9001"], capacity: { rps: 100, adaptive: true } }
  us-west: { upstreams: ["http://127.0.0.1:9002", "http://127.0.0.1:9003"], capacity: { rps: 5 } }
  eu: { upstreams: ["http://127.0.0.1:9004"], capacity: { rps: 1 } }
routing: { default: us-east }
clientLimit: { key: ip, rps: 5, maxKeys: 100 }
`;

const PREVIOUS = parseConfigText(PREVIOUS_TEXT, FILE, {});

async function closeAll(runtime: Runtime, retired: Retired): Promise<void> {
  await Promise.all([
    ...[...runtime.regions.values()].map((r) => r.close()),
    ...retired.regions.map((r) => r.close()),
    ...retired.closeables.map((c) => c.close()),
  ]);
}

/** Runs what `check` runs, then builds as a fresh start and as a reload; any throw fails the property. */
async function checkThenApply(config: GatewayConfig): Promise<void> {
  configWarnings(config);
  summarizeConfig(FILE, config);
  const fresh = Runtime.build(config, 1, undefined, deps);
  const freshRetired = fresh.commit();
  new LocalShare(1 / (config.cluster?.instances ?? 1)).apply(fresh.runtime);
  await closeAll(fresh.runtime, freshRetired);

  const previous = Runtime.build(PREVIOUS, 1, undefined, deps);
  previous.commit();
  const reload = Runtime.build(config, 2, previous.runtime, deps);
  const retired = reload.commit();
  new LocalShare(1).apply(reload.runtime);
  await closeAll(reload.runtime, retired);
}

describe('what check accepts, applying accepts', () => {
  failOnStrayErrors();
  const tally = { accepted: 0, rejected: 0 };
  afterAll(() => {
    // Both sides must be well represented, or the property says little.
    expect(tally.accepted).toBeGreaterThan(RUNS / 5);
    expect(tally.rejected).toBeGreaterThan(RUNS / 5);
  });

  // Validation either refuses with a ConfigError or gives a config that builds, fresh and as a reload.
  it(`holds for ${RUNS} generated configs`, async () => {
    await fc.assert(
      fc.asyncProperty(config, async (text) => {
        let parsed: GatewayConfig;
        try {
          parsed = parseConfigText(text, FILE, {});
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          tally.rejected++;
          return;
        }
        tally.accepted++;
        await checkThenApply(parsed);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  // The upstream parser never accepts what undici's Pool refuses, and refuses only what undici
  // would accept for a stated reason (credentials, port 0) or what the shape rule keeps out.
  it('agrees with undici on every generated upstream', async () => {
    await fc.assert(
      fc.asyncProperty(upstream, async (url) => {
        const ours = parseUpstreamOrigin(url);
        let pool: Pool | undefined;
        try {
          pool = new Pool(url);
        } catch {
          expect(ours.ok).toBe(false);
          return;
        }
        await pool.close();
        if (ours.ok) {
          const again = new Pool(ours.url);
          await again.close();
        } else {
          expect(ours.problem).toMatch(/credentials|port 0|without a path/);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
