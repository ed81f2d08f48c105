import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccessLog } from '../../src/observability/access-log.js';
import type { RequestContext } from '../../src/request/context.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: new AccessLog(pino({ level }, sink)), lines };
}

const east = { name: 'us-east', jsonName: '"us-east"' };
const west = { name: 'us-west', jsonName: '"us-west"' };

function context(fields: Partial<Record<string, unknown>>): RequestContext {
  return {
    home: east,
    region: east,
    status: 200,
    priority: 'normal',
    requestId: 'id-1',
    client: '127.0.0.1',
    reason: undefined,
    upstream: undefined,
    bytes: 0,
    req: { method: 'GET', url: '/x' },
    ...fields,
  } as unknown as RequestContext;
}

describe('access log lines', () => {
  // Client-chosen values (path, id, method) cannot break the line's JSON.
  it('writes valid JSON whatever the path and id hold', () => {
    const { log, lines } = capture();
    const path = '/a"b\\c\n\u0001é?q=1';
    log.write(context({ req: { method: 'GET', url: path }, requestId: '"\\' }), 'forwarded', 1.234567);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      path,
      requestId: '"\\',
      durationMs: 1.23,
      level: 'info',
      region: 'us-east',
    });
  });

  // Contract §5: reason on refusals, upstream when one answered, failoverFrom on a failover.
  it('carries the optional fields only when they apply', () => {
    const { log, lines } = capture();
    log.write(context({ status: 503, reason: 'rate' }), 'shed', 0);
    log.write(
      context({ region: west, upstream: 'http://10.0.0.1:80', reason: 'upstream-timeout' }),
      'failover',
      0,
    );
    const [shed, failover] = lines.map((l) => JSON.parse(l));
    expect(shed).toMatchObject({ outcome: 'shed', reason: 'rate', status: 503 });
    expect(shed).not.toHaveProperty('upstream');
    expect(shed).not.toHaveProperty('failoverFrom');
    expect(failover).toMatchObject({ region: 'us-west', failoverFrom: 'us-east', reason: 'timeout' });
  });

  // ISO 8601 with milliseconds, close to now, even when the cached second prefix is reused.
  it('stamps each line with the current time in ISO 8601', () => {
    const { log, lines } = capture();
    const before = Date.now();
    for (let i = 0; i < 3; i++) log.write(context({}), 'forwarded', 0);
    for (const l of lines) {
      const time = JSON.parse(l).time as string;
      expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Math.abs(Date.parse(time) - before)).toBeLessThan(5_000);
    }
  });

  it('is off above the info level or when access logging is off', () => {
    expect(capture('warn').log.enabled(true)).toBe(false);
    expect(capture('info').log.enabled(false)).toBe(false);
    expect(capture('info').log.enabled(true)).toBe(true);
  });
});

describe('access log bindings', () => {
  // A child logger's bindings (a cluster worker's id) appear on access lines as on pino's own.
  it('carries the logger bindings', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = new AccessLog(pino({ base: undefined }, sink).child({ worker: 2 }));
    log.write(context({}), 'forwarded', 0);
    expect(JSON.parse(lines[0]!)).toMatchObject({ worker: 2, outcome: 'forwarded' });
  });
});
