import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';

const FILE = 'gw.yaml';
const ENV = { PORT: '8080', RPS: '50', WORDS: 'a: b', EMPTY: '' };
// Generous: the point is "no hang", and a busy CI machine must not turn this into a flake.
const MAX_PARSE_MS = 2000;

const VALID = `listen: { host: 127.0.0.1, port: 0 }
regions:
  us-east:
    upstreams: ["http://127.0.0.1:9001"]
    capacity: { rps: 100, burst: 10 }
    failover: [us-west]
  us-west:
    upstreams: ["http://127.0.0.1:9002"]
    capacity: { rps: "\${RPS}" }
routing: { default: us-east }
routes:
  - match: { pathPrefix: /api }
    priority: high
`;

// The pieces YAML's grammar turns on, plus the schema's own words, so that random text often
// parses as YAML and reaches validation rather than dying in the tokenizer.
/** `${NAME}` written without a string that looks like a forgotten template. */
const placeholder = (name: string) => `\${${name}}`;

const TOKENS = [
  ...['regions', 'routing', 'default', 'us-east', 'capacity', 'rps', 'upstreams', 'listen', 'port'],
  ...['failover', 'routes', 'match', 'pathPrefix', 'clientLimit', 'key', 'trustedProxies'],
  ...[':', ': ', '\n', '\r\n', '  ', '    ', '- ', '[', ']', '{', '}', ',', '"', "'", '#'],
  ...['&a ', '*a', '&b ', '*b', '<<: ', '!!str ', '!!int ', '!!binary ', '!!set ', '!!omap ', '!foo '],
  ...['? ', '---', '...', '%YAML 1.2', '|', '>', '\t', '\\', '\0', '\uFEFF', '\u2028'],
  ...['PORT', 'RPS', 'WORDS', 'EMPTY', 'MISSING'].map(placeholder),
  ...['$' + '{', '__proto__', 'constructor'],
  ...['1e999', '.inf', '-.inf', '.nan', '-1', '0', '0x1F', '0o17', '1_000', 'null', '~', 'true', 'yes'],
  ...['http://127.0.0.1:1', 'https://x/', '10.0.0.0/8', '/api', 'low', 'critical', 'ip', 'header:x'],
];

const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(''));

/** Random token soup, or the valid file with soup spliced in somewhere (near-valid inputs find more). */
const yamlishText = fc.oneof(
  tokenSoup,
  fc.tuple(fc.nat(VALID.length), tokenSoup).map(([at, soup]) => VALID.slice(0, at) + soup + VALID.slice(at)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

function parseOutcome(text: string): { error?: unknown; ms: number } {
  const started = performance.now();
  try {
    parseConfigText(text, FILE, ENV);
    return { ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

describe('config loader under arbitrary YAML-ish text', () => {
  failOnStrayErrors();

  // The fixture is valid, so the spliced inputs start from something that parses.
  it('accepts the unmodified fixture', () => {
    expect(parseConfigText(VALID, FILE, ENV).regions['us-west']!.capacity.rps).toBe(50);
  });

  // Any text gives a config or a ConfigError with at least one problem, quickly; never another exception.
  it('answers any text with a config or a ConfigError', () => {
    fc.assert(
      fc.property(yamlishText, (text) => {
        const { error, ms } = parseOutcome(text);
        expect(ms).toBeLessThan(MAX_PARSE_MS);
        if (error === undefined) return;
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  // Every problem names the file first; parse errors give a line and column where other problems give a key path.
  it('names the file in every problem', () => {
    fc.assert(
      fc.property(yamlishText, (text) => {
        const { error } = parseOutcome(text);
        if (!(error instanceof ConfigError)) return;
        for (const problem of error.problems) expect(problem).toMatch(/^gw\.yaml: .+: .+/s);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  // Documents built to expand aliases (the "billion laughs" shape) are refused as config problems, not thrown as ReferenceError.
  it('refuses alias-heavy documents with a ConfigError', () => {
    const aliasHeavy = fc
      .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.boolean())
      .map(([items, aliases, nested]) => {
        const anchor = `anchor: &a [${Array(items).fill('x').join(', ')}]\n`;
        const refs = Array(aliases).fill('*a').join(', ');
        return nested ? `${anchor}b: &b [${refs}]\nc: [*b, *b, *b, *b]\n` : `${anchor}refs: [${refs}]\n`;
      });
    fc.assert(
      fc.property(aliasHeavy, (text) => {
        const { error, ms } = parseOutcome(text);
        expect(ms).toBeLessThan(MAX_PARSE_MS);
        expect(error).toBeInstanceOf(ConfigError);
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
