import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/domain.js';
import { AccessLog } from '../../src/observability/access-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { type AccessLine, AccessLineParser } from '../../src/replay/access-line.js';
import { F_CLIENT, FloodgateLine } from '../../src/replay/floodgate-line.js';
import { bytesHash } from '../../src/replay/interned-strings.js';
import type { RequestContext } from '../../src/request/context.js';

// Lines written by the gateway's own AccessLog, through the logger the gateway makes (a cluster
// worker's is a child carrying `worker`), so these tests follow the writer if it changes.
function writer(worker?: number) {
  const lines: string[] = [];
  const destination = { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)) };
  const logger = createLogger('info', destination);
  const log = new AccessLog(worker === undefined ? logger : logger.child({ worker }));
  return { log, lines };
}

const region = (name: string) => ({ name, jsonName: JSON.stringify(name) });

interface Request {
  region?: string;
  home?: string;
  status?: number;
  priority?: string;
  method?: string;
  url?: string;
  requestId?: string;
  client?: string;
  reason?: string;
  upstream?: string;
  outcome?: Outcome;
  durationMs?: number;
  waitMs?: number;
  worker?: number;
}

function written(r: Request): string {
  const { log, lines } = writer(r.worker);
  const served = region(r.region ?? 'us-east');
  const ctx = {
    region: served,
    home: r.home === undefined ? served : region(r.home),
    status: r.status ?? 200,
    priority: r.priority ?? 'normal',
    req: { method: r.method ?? 'GET', url: r.url ?? '/api/video/7?v=2' },
    requestId: r.requestId ?? 'req-1',
    client: r.client ?? '10.0.0.7',
    reason: r.reason,
    upstream: r.upstream,
    waitMs: r.waitMs ?? 0,
    bytes: 512,
  } as unknown as RequestContext;
  log.write(ctx, r.outcome ?? 'forwarded', r.durationMs ?? 12.34);
  return lines[0]!;
}

const PREFIXES = ['/api', '/api/video', '/api/likes'];

/** What the general path makes of a line: a space after the brace takes the fast paths out of play. */
function reference(line: string) {
  return read(`{ ${line.slice(1)}`);
}

function read(line: string) {
  const parser = new AccessLineParser(PREFIXES);
  const parsed = parser.parse(Buffer.from(line));
  if (typeof parsed === 'string') return { parsed };
  // JSON.parse's path keeps targets whole: compared by the prefix they route by, which is what matters.
  const routeKey = parsed.routeKey.startsWith('/')
    ? (PREFIXES.filter((p) => parsed.routeKey.startsWith(p)).sort((a, b) => b.length - a.length)[0] ?? '')
    : parsed.routeKey;
  return { parsed: { ...withoutShape(parsed), routeKey }, client: parser.client(), path: parser.path() };
}

/** A line's fields but its shape, which only means something among lines of one parser. */
function withoutShape(line: AccessLine): Omit<AccessLine, 'shape'> {
  const { shape: _shape, ...rest } = line;
  return rest;
}

function ownLayout(line: string): boolean {
  const bytes = Buffer.from(line);
  return new FloodgateLine().read(bytes, 0, bytes.length);
}

describe("reading Floodgate's own access lines", () => {
  // Every shape the writer produces is read in place, and reads as the general path reads it.
  it.each<[string, Request]>([
    ['a forwarded request', { upstream: 'http://10.1.0.11:9001' }],
    ['a shed request', { status: 503, outcome: 'shed', reason: 'rate', durationMs: 0.07 }],
    [
      'a failover',
      { region: 'us-west', home: 'us-east', upstream: 'http://10.2.0.1:80', outcome: 'failover' },
    ],
    ['a failed failover', { region: 'us-west', home: 'us-east', reason: 'upstream-timeout', status: 504 }],
    ['a cluster worker', { worker: 3, upstream: 'http://10.1.0.11:9001' }],
    ['our own 4xx', { status: 413, outcome: 'error', reason: 'body-too-large' }],
    ['our own 501', { status: 501, outcome: 'error', reason: 'method-not-implemented', method: 'CONNECT' }],
    ['a client that left', { status: 499, outcome: 'error', reason: 'client-closed' }],
    ['a cut at shutdown', { status: 404, outcome: 'error', reason: 'shutdown' }],
    ['a whole-number duration', { durationMs: 250 }],
    ['a lowered priority', { priority: 'low', url: '/api/likes/1' }],
    ['a non-ASCII path and client', { url: '/api/vidéo/ü', client: 'clïent', region: 'eu-wést' }],
    ['an absolute-form target', { url: 'http://example.test/api/video/1' }],
    ['a long path', { url: `/api/video/${'x'.repeat(3000)}` }],
    ['a paced request', { upstream: 'http://10.1.0.11:9001', waitMs: 41.5, durationMs: 60 }],
    ['a paced failover', { region: 'us-west', home: 'us-east', waitMs: 3, outcome: 'failover' }],
  ])('%s', (_name, request) => {
    const line = written(request);
    expect(ownLayout(line)).toBe(true);
    expect(read(line)).toEqual(reference(line));
    if (request.waitMs !== undefined) expect(read(line).parsed).toMatchObject({ waitMs: request.waitMs });
  });

  // Answered by the gateway itself at max-forwards 0: never seen by admission, so not replayed.
  it('skips an answer of its own', () => {
    const line = written({ method: 'OPTIONS', outcome: 'local' });
    expect(ownLayout(line)).toBe(true);
    expect(read(line)).toEqual({ parsed: 'other' });
    expect(reference(line)).toEqual({ parsed: 'other' });
  });

  it('reads what the general path reads, for any values the writer is given', () => {
    // Mostly plain text (read in place), some of anything (often escaped: read by the general path).
    const text = fc.oneof(
      { weight: 3, arbitrary: fc.stringMatching(/^[\x20-\x21\x23-\x5b\x5d-\x7e]{0,24}$/) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
    );
    let inPlace = 0;
    fc.assert(
      fc.property(
        fc.record({
          region: fc.constantFrom('us-east', 'us-west', 'é'),
          home: fc.option(fc.constantFrom('us-east', 'eu-west'), { nil: undefined }),
          status: fc.constantFrom(0, 200, 404, 413, 499, 501, 503, 504),
          priority: fc.constantFrom('critical', 'high', 'normal', 'low'),
          method: fc.constantFrom('GET', 'POST', 'Ü'),
          url: fc.oneof(
            text.map((t) => `/api/${t}`),
            text,
          ),
          requestId: text,
          client: text,
          reason: fc.option(
            fc.oneof(
              fc.constantFrom(
                'rate',
                'surge',
                'upstream-timeout',
                'client-closed',
                'shutdown',
                'bad-request',
              ),
              text,
            ),
            { nil: undefined },
          ),
          upstream: fc.option(text, { nil: undefined }),
          outcome: fc.constantFrom<Outcome>('forwarded', 'shed', 'stale', 'error', 'failover'),
          durationMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
          waitMs: fc.option(fc.double({ min: 0, max: 1e4, noNaN: true }), { nil: undefined }),
          worker: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
        }),
        (request) => {
          const line = written(request);
          if (ownLayout(line)) inPlace++;
          expect(read(line)).toEqual(reference(line));
        },
      ),
      { numRuns: 1500 },
    );
    expect(inPlace).toBeGreaterThan(500);
  }, 30_000);

  // Lines the writer does not make, or makes only with escapes: the general path reads them, and
  // reads them right (or refuses them) whatever the fast path would have made of them.
  const plain = written({ upstream: 'http://10.1.0.11:9001' });
  it.each<[string, string]>([
    ['an escape in the path', written({ url: '/a"b' })],
    ['an escape in a skipped value', written({ requestId: 'x\\y' })],
    ['a control character escaped', written({ client: 'a\tb' })],
    ['spaces between tokens', plain.replace('"status":', '"status": ')],
    ['an exponent', plain.replace(/"durationMs":[0-9.]+/, '"durationMs":1e2')],
    ['a negative duration', plain.replace(/"durationMs":[0-9.]+/, '"durationMs":-1')],
    ['a key spelt otherwise', plain.replace('"region"', '"regiom"')],
    ['keys in another order', plain.replace(/"method":"GET","path":("[^"]*")/, '"path":$1,"method":"GET"')],
    ['a field more', plain.replace('"bytes"', '"extra":1,"bytes"')],
    ['pino base fields', plain.replace(/("time":"[^"]*")/, '$1,"pid":7,"hostname":"h"')],
    ['a string status', plain.replace('"status":200', '"status":"200"')],
    ['a leading zero', plain.replace('"status":200', '"status":0200')],
    ['a raw control character in a kept value', plain.replace('10.0.0.7', '10.0.\t0.7')],
    ['a time in another form', plain.replace(/"time":"[^"]*"/, '"time":"2026-12-01T11:00:05.250+01:00"')],
    ['an event line', plain.replace('"bytes"', '"event":"x","bytes"')],
    ['a line cut off', plain.slice(0, -1)],
    ['a line cut off in a value', plain.slice(0, plain.indexOf('"client"') + 12)],
  ])('leaves %s to the general path', (_name, line) => {
    expect(ownLayout(line)).toBe(false);
    expect(read(line)).toEqual(reference(line));
  });

  // Lines one after another in one buffer, escapes in some: each read in place or not on its own.
  it('reads lines in place in a larger buffer', () => {
    const lines = [
      written({ client: 'a' }),
      written({ url: '/x\\y' }),
      written({ client: 'b' }),
      written({ client: 'c', requestId: '"' }),
      written({ client: 'd' }),
    ];
    const bytes = Buffer.from(lines.join('\n'));
    const own = new FloodgateLine();
    const parser = new AccessLineParser(PREFIXES);
    let start = 0;
    const seen: Array<[boolean, string | undefined]> = [];
    for (const line of lines) {
      const end = start + Buffer.byteLength(line);
      parser.parse(bytes, start, end);
      seen.push([own.read(bytes, start, end), parser.client()]);
      start = end + 1;
    }
    // The client's hash is worked out on the way, as the interning of it would.
    const last = Buffer.from(lines[4]!);
    expect(own.read(last, 0, last.length)).toBe(true);
    expect(own.clientHash).toBe(bytesHash(last, own.starts[F_CLIENT]!, own.ends[F_CLIENT]!));
    expect(seen).toEqual([
      [true, 'a'],
      [false, '10.0.0.7'],
      [true, 'b'],
      [false, 'c'],
      [true, 'd'],
    ]);
    // Read again from the start: what was found about the buffer does not carry over wrongly.
    expect(own.read(bytes, 0, Buffer.byteLength(lines[0]!))).toBe(true);
  });

  // One parser for a whole log: values seen before (regions, methods...) are recognised in place,
  // and must read as when they were new.
  it('reads values it has seen before as it read them the first time', () => {
    const requests: Request[] = [
      { region: 'us-west', home: 'us-east', outcome: 'failover' },
      { region: 'us-east' },
      { region: 'us-west', home: 'us-east', outcome: 'failover' },
      { region: 'us-east', status: 503, outcome: 'shed', priority: 'low', reason: 'rate' },
      { region: 'us-east', status: 503, outcome: 'shed', priority: 'low', reason: 'rate', method: 'HEAD' },
      { region: 'us-eastern', method: 'GET', priority: 'lowest' },
      { region: 'us-east', method: 'GETS', outcome: 'stale' },
      { region: 'x', home: 'a-region-name-longer-than-twenty-bytes', method: 'GET' },
      { region: 'x', home: 'a-region-name-longer-than-twenty-bytes-too' },
      { region: 'x', home: 'a-region-name-longer-than-twenty-bytes' },
      { region: 'us-east', status: 400, outcome: 'error' },
      { region: 'us-east', status: 500, outcome: 'error' },
    ];
    const lines = requests.map(written);
    const parser = new AccessLineParser(PREFIXES);
    const got = lines.map((line) => {
      const parsed = parser.parse(Buffer.from(line));
      return typeof parsed === 'string' ? parsed : withoutShape(parsed);
    });
    const fresh = lines.map((line) => new AccessLineParser(PREFIXES).parse(Buffer.from(line)));
    expect(got).toEqual(fresh.map((line) => (typeof line === 'string' ? line : withoutShape(line))));
    expect(got.map((line) => (typeof line === 'string' ? line : line.home))).toEqual([
      'us-east',
      'us-east',
      'us-east',
      'us-east',
      'us-east',
      'us-eastern',
      'us-east',
      'a-region-name-longer-than-twenty-bytes',
      'a-region-name-longer-than-twenty-bytes-too',
      'a-region-name-longer-than-twenty-bytes',
      'bad-input',
      'us-east',
    ]);
  });

  // More distinct values of a field than are remembered: the rest are read the general way.
  it('reads a field with many values', () => {
    const parser = new AccessLineParser(PREFIXES);
    for (let i = 0; i < 100; i++) {
      const line = written({ method: `M${i}` });
      expect(parser.parse(Buffer.from(line))).toMatchObject({ method: `M${i}` });
    }
  });

  it('reads times across second boundaries', () => {
    const parser = new AccessLineParser();
    const base = written({});
    const times = ['2026-12-01T10:00:05.999Z', '2026-12-01T10:00:06.000Z', '2026-12-01T10:00:06.001Z'];
    const ends = times.map((time) => {
      const line = base.replace(/"time":"[^"]*"/, `"time":"${time}"`);
      expect(ownLayout(line)).toBe(true);
      return (parser.parse(Buffer.from(line)) as { end: number }).end;
    });
    expect(ends).toEqual(times.map(Date.parse));
  });
});

describe('lines the own-layout reader must leave to the general path', () => {
  // JSON.parse refuses a raw control character in a string; so must every string replay reads.
  it.each<[string, () => string]>([
    ['a tab in the path', () => written({}).replace('"path":"/api/', '"path":"/api/\t')],
    ['a NUL in the time', () => written({}).replace(/("time":"\d{4}-\d\d-\d\dT\d\d:\d\d)./, '$1\u0000')],
    ['a control character in the client', () => written({}).replace('"client":"', '"client":"\u001f')],
    // Strings replay passes over too: a line cut inside one runs into the next line.
    ['a newline in the request id', () => written({}).replace('"requestId":"', '"requestId":"ab\n')],
    [
      'a newline in the reason',
      () => written({ reason: 'rate', outcome: 'shed', status: 503 }).replace('"reason":"', '"reason":"r\n'),
    ],
    [
      'a control character in the upstream',
      () => written({ upstream: 'http://10.1.0.11:9001' }).replace('"upstream":"', '"upstream":"\u0002'),
    ],
  ])('%s', (_name, damaged) => {
    const line = damaged();
    expect(() => JSON.parse(line)).toThrow();
    expect(ownLayout(line)).toBe(false);
    expect(read(line).parsed).toBe('other');
  });

  // Date.parse reads more shapes than pino writes; a time not in pino's shape means what Date.parse says.
  it('reads a time in another shape as Date.parse does', () => {
    const time = '2026-12-(1T10:00:00.123Z';
    const line = written({}).replace(/"time":"[^"]*"/, `"time":"${time}"`);
    expect(ownLayout(line)).toBe(false);
    expect(read(line).parsed).toMatchObject({ end: Date.parse(time) });
  });

  // Values are learnt from whole lines only: cut-off lines with new methods must not fill the table.
  it('learns no value from a line it does not read', () => {
    const own = new FloodgateLine();
    for (let i = 0; i < 40; i++) {
      const line = written({ method: `X${i}` });
      const cut = Buffer.from(line.slice(0, line.indexOf('"path"')));
      expect(own.read(cut, 0, cut.length)).toBe(false);
    }
    expect(own.methods.strings).toEqual([]);
    for (const method of ['GET', 'POST']) {
      const bytes = Buffer.from(written({ method }));
      expect(own.read(bytes, 0, bytes.length)).toBe(true);
    }
    expect(own.methods.strings).toEqual(['GET', 'POST']);
  });

  // failoverFrom shares the regions' table: a new region named twice on one line is learnt once.
  it('learns a region once when a new one is both region and failoverFrom', () => {
    const own = new FloodgateLine();
    const bytes = Buffer.from(written({ region: 'ap-south', home: 'ap-south' }));
    expect(own.read(bytes, 0, bytes.length)).toBe(true);
    const failover = Buffer.from(written({ region: 'us-west', home: 'us-west-2' }));
    expect(own.read(failover, 0, failover.length)).toBe(true);
    expect(own.regions.strings).toEqual(['ap-south', 'us-west', 'us-west-2']);
  });
});
