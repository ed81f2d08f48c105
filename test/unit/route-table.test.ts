import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { RouteTable } from '../../src/routing/route-table.js';

const CONFIG = parseConfigText(
  `
regions:
  us-east: { upstreams: ["http://127.0.0.1:1"], capacity: { rps: 1 } }
routing: { default: us-east }
routes:
  - { match: { pathPrefix: /api/video/upload, methods: [POST] }, priority: high }
  - { match: { pathPrefix: /api/video }, priority: critical }
  - { match: { pathPrefix: /api/likes }, priority: normal, staleCache: { ttlMs: 5000 } }
  - { match: { pathPrefix: /api/notifications }, priority: low }
`,
  'routes.yaml',
  {},
);

describe('route table', () => {
  const table = new RouteTable(CONFIG);

  // The first route whose prefix (and method, when given) matches wins; unmatched paths are normal.
  it.each([
    ['GET', '/api/video/7', 'critical', undefined],
    ['POST', '/api/video/upload', 'high', undefined],
    ['GET', '/api/video/upload', 'critical', undefined],
    ['GET', '/api/likes/7', 'normal', 5000],
    ['GET', '/api/notifications?since=1', 'low', undefined],
    ['GET', '/health', 'normal', undefined],
    ['GET', '/API/video/7', 'normal', undefined],
  ])('%s %s -> %s', (method, path, priority, staleTtlMs) => {
    const route = table.match(path, method);
    expect(route.priority).toBe(priority);
    expect(route.staleTtlMs).toBe(staleTtlMs);
  });
});
