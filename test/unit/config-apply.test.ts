import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
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

  // A valid file builds.
  it('builds what it accepts', () => {
    expect(() => build(base('http://127.0.0.1:1'))).not.toThrow();
  });
});
