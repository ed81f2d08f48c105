import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { Runtime } from '../../src/runtime.js';

const CONFIG = parseConfigText(
  `
regions:
  us-east: { upstreams: ["http://127.0.0.1:1"], capacity: { rps: 1 } }
  eu-west: { upstreams: ["http://127.0.0.1:2"], capacity: { rps: 1 } }
routing: { header: X-Home-Region, default: us-east }
`,
  'regions.yaml',
  {},
);

describe('region choice', () => {
  const deps = { clock: () => 0, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };
  const { runtime } = Runtime.build(CONFIG, 1, undefined, deps);

  // The routing header names the home region when it names a configured one; otherwise the default.
  it.each([
    ['eu-west', 'eu-west'],
    ['us-east', 'us-east'],
    ['EU-WEST', 'us-east'],
    ['', 'us-east'],
    [undefined, 'us-east'],
    [['eu-west', 'us-east'], 'us-east'],
    ['eu-west ', 'us-east'],
  ])('%j -> %s', (hint, expected) => {
    expect(runtime.regionFor(hint).name).toBe(expected);
  });

  // Header names are matched case-insensitively, as HTTP requires.
  it('reads the routing header in lower case', () => {
    expect(runtime.regionHeader).toBe('x-home-region');
  });
});
