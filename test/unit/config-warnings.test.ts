import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { configWarnings } from '../../src/config/warnings.js';

const REGIONS = `
regions:
  us-east: { upstreams: ["http://127.0.0.1:9001"], capacity: { rps: 100, burst: 20 } }
routing: { default: us-east }
`;

function warningsOf(extra: string, regions = REGIONS): string[] {
  return configWarnings(parseConfigText(`${regions}${extra}`, 'gw.yaml', {}));
}

describe('check warnings', () => {
  // A sensible config warns about nothing, so a warning always means something.
  it('stays quiet on a sensible config', () => {
    const routes = `routes:
  - { match: { pathPrefix: /api/video }, priority: critical }
  - { match: { pathPrefix: /api, methods: [GET] }, priority: high }
  - { match: { pathPrefix: /api/upload, methods: [POST] }, priority: low }
  - { match: { pathPrefix: /api }, priority: normal }
`;
    expect(warningsOf(routes)).toEqual([]);
  });

  // First match wins: an earlier prefix with the same or a broader method set hides a later route.
  it.each([
    ['the same prefix', '/api', undefined, '/api', undefined],
    ['a broader prefix', '/api', undefined, '/api/likes', undefined],
    ['all methods before some', '/', undefined, '/x', ['GET']],
    ['a superset of methods', '/a', ['GET', 'HEAD'], '/a/b', ['HEAD']],
  ])('warns about a route hidden by %s', (_name, firstPrefix, firstMethods, prefix, methods) => {
    const route = (p: string, m: string[] | undefined) =>
      `  - { match: { pathPrefix: ${p}${m ? `, methods: [${m.join(', ')}]` : ''} } }\n`;
    const warnings = warningsOf(`routes:\n${route(firstPrefix, firstMethods)}${route(prefix, methods)}`);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^routes\.1: never matches: routes\.0 \(pathPrefix /);
  });

  // A narrower method set or a longer prefix first does not hide anything.
  it.each([
    ['fewer methods first', '/a', ['GET'], '/a', undefined],
    ['a longer prefix first', '/a/b', undefined, '/a', undefined],
    ['other methods first', '/a', ['POST'], '/a/b', ['GET']],
  ])('does not warn with %s', (_name, firstPrefix, firstMethods, prefix, methods) => {
    const route = (p: string, m: string[] | undefined) =>
      `  - { match: { pathPrefix: ${p}${m ? `, methods: [${m.join(', ')}]` : ''} } }\n`;
    expect(warningsOf(`routes:\n${route(firstPrefix, firstMethods)}${route(prefix, methods)}`)).toEqual([]);
  });

  // A route with no methods, or a stale cache on a route that never sees GET, does nothing.
  it('warns about routes that match nothing or keep nothing', () => {
    expect(
      warningsOf(`routes:
  - { match: { pathPrefix: /a, methods: [] } }
  - { match: { pathPrefix: /b, methods: [POST] }, staleCache: {} }
`),
    ).toEqual([
      'routes.0.match.methods: an empty list matches no request, so the route never applies',
      'routes.1.staleCache: only GET answers are kept, and this route does not match GET',
    ]);
  });

  // The same origin twice (however it is spelled) gets double the traffic.
  it('warns about duplicate upstreams', () => {
    const regions = `
regions:
  us-east:
    upstreams: ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9001/"]
    capacity: { rps: 100, burst: 20 }
routing: { default: us-east }
`;
    expect(warningsOf('', regions)).toEqual([
      'regions.us-east.upstreams.2: the same origin as upstreams.0 (http://127.0.0.1:9001); list each host once',
    ]);
  });

  // docs/operations.md: a burst of 0.1-0.25 s of rps; below 2 the priority floors collapse, above 1 s spikes queue.
  it.each([
    [
      1,
      /^regions\.us-east\.capacity\.burst: 1 is too small to tell priorities apart \(the token floors of critical and high, high and normal, normal and low are the same\)/,
    ],
    [
      1.2,
      /^regions\.us-east\.capacity\.burst: 1\.2 is too small to tell priorities apart \(the token floors of normal and low are the same\)/,
    ],
    [500, /^regions\.us-east\.capacity\.burst: 500 is more than a second of rps \(100\)/],
  ])('warns about burst %s', (burst, expected) => {
    const regions = REGIONS.replace('burst: 20', `burst: ${burst}`);
    const warnings = warningsOf('', regions);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(expected);
  });

  // Bursts the docs recommend, or the default of one second, pass quietly.
  it.each([2, 20, 100])('accepts burst %s', (burst) => {
    expect(warningsOf('', REGIONS.replace('burst: 20', `burst: ${burst}`))).toEqual([]);
  });
});
