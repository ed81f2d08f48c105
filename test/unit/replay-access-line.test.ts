import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessLineParser } from '../../src/replay/access-line.js';
import { JsonFieldScanner } from '../../src/replay/json-fields.js';

const FIELDS = ['a', 'b', 'path', 'n'] as const;
const [A, B, PATH, N] = [0, 1, 2, 3];

describe('JsonFieldScanner', () => {
  // Each row: a line of one JSON object and what the wanted fields read as; JSON.parse is the reference.
  const rows: Array<[string, { a?: unknown; b?: unknown; path?: unknown; n?: unknown }]> = [
    ['{"a":"x","b":"y","n":12.5}', { a: 'x', b: 'y', n: 12.5 }],
    ['{"zz":1,"a":"x"}', { a: 'x' }],
    ['{"a":"say \\"hi\\"","path":"/p?q=\\\\"}', { a: 'say "hi"', path: '/p?q=\\' }],
    ['{"a":"\\u00e9t\\u00e9","n":-3}', { a: 'été', n: -3 }],
    ['{"a":"été","path":"/p/ü","n":0.5}', { a: 'été', path: '/p/ü', n: 0.5 }],
    ['{"path":"/a,b}c","n":1e3}', { path: '/a,b}c', n: 1000 }],
    ['{"x":"\\"a\\":\\"fake\\"","a":"real"}', { a: 'real' }],
    ['{ "a" : "spaced" , "n" : 7 }', { a: 'spaced', n: 7 }],
    ['{"nested":{"a":"inner"},"a":"outer"}', { a: 'outer' }],
    ['{"list":[{"b":1}],"b":"top"}', { b: 'top' }],
    ['{"a":true,"b":null,"n":"7"}', {}],
    ['{}', {}],
  ];
  // Lines that are not one whole JSON object (cut off, junk, another kind of value).
  const notObjects = [
    '{"a":"x","n":1',
    '{"a":"unterminated}',
    'not json',
    '[1,2]',
    '{"a":"x"} trailing',
    '{"a":bogus}',
    '{"n":01}',
    '{"n":1.}',
    '{"n":-}',
    '{"a":"tab\there"}',
    '{"a":tru}',
  ];

  it.each(notObjects)('rejects %s', (line) => {
    expect(new JsonFieldScanner(FIELDS).scan(Buffer.from(line), 0, Buffer.byteLength(line))).toBe(false);
    expect(isObject(tryParse(line))).toBe(false);
  });

  it.each(rows)('reads %s', (line, expected) => {
    const scanner = new JsonFieldScanner(FIELDS);
    expect(scanner.scan(Buffer.from(line), 0, Buffer.byteLength(line))).toBe(true);
    const reference = JSON.parse(line) as Record<string, unknown>;
    for (const [field, name] of [
      [A, 'a'],
      [B, 'b'],
      [PATH, 'path'],
    ] as const) {
      const value = reference[name];
      expect(scanner.string(field)).toBe(typeof value === 'string' ? value : undefined);
      expect(scanner.string(field)).toBe(expected[name]);
    }
    expect(scanner.number(N)).toBe(expected.n);
  });

  // Numbers read exactly as JSON.parse reads them (one rounding), including the decimals a
  // two-step sum gets one ulp wrong, such as 6.81 and 4.69.
  it('reads decimal numbers exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e9, max: 1e15 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 999_999 }),
        (whole, places, digits) => {
          const fraction = places === 0 ? '' : `.${String(digits).padStart(6, '0').slice(0, places)}`;
          const line = `{"n":${whole}${fraction}}`;
          const scanner = new JsonFieldScanner(FIELDS);
          expect(scanner.scan(Buffer.from(line), 0, line.length)).toBe(true);
          expect(Object.is(scanner.number(N), (JSON.parse(line) as { n: number }).n)).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
    for (const text of ['6.81', '4.69', '1.778323', '-0', '-0.0']) {
      const line = `{"n":${text}}`;
      const scanner = new JsonFieldScanner(FIELDS);
      scanner.scan(Buffer.from(line), 0, line.length);
      expect(Object.is(scanner.number(N), Number(text))).toBe(true);
    }
  });

  // Lines are read in place inside a larger text, one after another.
  it('scans lines within a larger text', () => {
    const text = '{"a":"one","n":1}\n{"b":"\\\\two","n":2}\n{"a":"three"}';
    const scanner = new JsonFieldScanner(FIELDS);
    const got: unknown[] = [];
    const bytes = Buffer.from(text);
    let start = 0;
    for (const line of text.split('\n')) {
      expect(scanner.scan(bytes, start, start + line.length)).toBe(true);
      got.push([scanner.string(A), scanner.string(B), scanner.number(N)]);
      start += line.length + 1;
    }
    expect(got).toEqual([
      ['one', undefined, 1],
      [undefined, '\\two', 2],
      ['three', undefined, undefined],
    ]);
  });

  // Repeated values come back equal, whether escaped or not.
  it('returns repeated values and compares in place', () => {
    const scanner = new JsonFieldScanner(FIELDS);
    for (const line of ['{"a":"us-east"}', '{"a":"us-east"}', '{"a":"us-\\u0065ast"}']) {
      scanner.scan(Buffer.from(line), 0, line.length);
      expect(scanner.repeated(A)).toBe('us-east');
      expect(scanner.equals(A, 'us-east')).toBe(true);
      expect(scanner.equals(A, 'us-eas')).toBe(false);
    }
  });
});

function jsonLine(fields: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(fields));
}

function tryParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

describe('AccessLineParser', () => {
  const line = (fields: Record<string, unknown>) =>
    jsonLine({
      level: 'info',
      time: '2026-12-01T10:00:05.250Z',
      region: 'us-east',
      status: 200,
      outcome: 'forwarded',
      priority: 'high',
      durationMs: 12.5,
      method: 'GET',
      path: '/api/x?y=1',
      requestId: 'abc',
      client: '10.0.0.7',
      ...fields,
    });

  // An access line's fields, with its end time as epoch ms.
  it('reads an access line', () => {
    const parser = new AccessLineParser();
    expect(parser.parse(line({}))).toEqual({
      end: Date.parse('2026-12-01T10:00:05.250Z'),
      durationMs: 12.5,
      waitMs: 0,
      refusedLive: false,
      home: 'us-east',
      method: 'GET',
      routeKey: '/api/x?y=1',
      loggedRank: 1,
      // Read the general way: no shape to keep what it is routed to by.
      shape: -1,
    });
    expect(parser.client()).toBe('10.0.0.7');
    expect(parser.path()).toBe('/api/x?y=1');
    // The wait for a pacing turn, when the gateway logged one.
    expect(parser.parse(line({ waitMs: 7.25 }))).toMatchObject({ durationMs: 12.5, waitMs: 7.25 });
    expect(parser.parse(line({ waitMs: -1 }))).toMatchObject({ waitMs: 0 });
  });

  // Routes see the longest prefix an origin-form target starts with (bytes above ASCII change
  // nothing: an ASCII prefix matches the bytes exactly when it matches the text); other targets
  // are kept whole.
  it.each([
    ['/api/x?y=1', '/api/x'],
    ['/api/video/7', '/api/video'],
    ['/api/videos', '/api/video'],
    ['/ap', ''],
    ['/other', ''],
    ['http://example.test/api/x', 'http://example.test/api/x'],
    ['/é/x', ''],
    ['/api/é', '/api'],
  ])('keys %s by %s', (path, key) => {
    const parser = new AccessLineParser(['/api', '/api/video', '/api/x', '/api']);
    expect(parser.parse(line({ path }))).toMatchObject({ routeKey: key });
    expect(parser.path()).toBe(path);
  });

  // The home region is failoverFrom when present; refusals get no duration of their own; times in any ISO form work.
  it.each([
    [
      { region: 'us-west', failoverFrom: 'us-east', outcome: 'failover' },
      { home: 'us-east', durationMs: 12.5 },
    ],
    [{ outcome: 'shed', status: 503 }, { refusedLive: true }],
    [{ outcome: 'stale' }, { refusedLive: true }],
    [{ outcome: 'error', status: 504 }, { refusedLive: false }],
    [{ time: '2026-12-01T11:00:05.250+01:00' }, { end: Date.parse('2026-12-01T10:00:05.250Z') }],
    [{ time: Date.parse('2026-12-01T10:00:05.250Z') }, { end: Date.parse('2026-12-01T10:00:05.250Z') }],
    [{ priority: undefined }, { loggedRank: -1 }],
  ])('reads %o', (fields, expected) => {
    expect(new AccessLineParser().parse(line(fields))).toMatchObject(expected);
  });

  // Event lines, junk and lines missing what replay needs are other lines; our own 4xx refusals are bad input.
  it.each([
    [{ event: 'surge-began' }, 'other'],
    [{ status: undefined }, 'other'],
    [{ durationMs: -1 }, 'other'],
    [{ durationMs: '5' }, 'other'],
    [{ time: 'yesterday' }, 'other'],
    [{ time: '2026-13-45T99:00:05.250Z' }, 'other'],
    [{ path: undefined }, 'other'],
    [{ outcome: 'error', status: 400 }, 'bad-input'],
    [{ outcome: 'error', status: 413 }, 'bad-input'],
    // By reason, as the gateway logs every refusal: of bad input, whatever the status...
    [{ outcome: 'error', status: 400, reason: 'bad-request' }, 'bad-input'],
    [{ outcome: 'error', status: 501, reason: 'method-not-implemented' }, 'bad-input'],
    [{ outcome: 'error', status: 505, reason: 'version-not-supported' }, 'bad-input'],
    // Answered by the gateway at max-forwards 0: admission never saw it live.
    [{ outcome: 'local', method: 'OPTIONS' }, 'other'],
  ])('classifies %o', (fields, kind) => {
    expect(new AccessLineParser().parse(line(fields))).toBe(kind);
  });

  // ...and admitted live, whatever the status: a client that left, a cut at shutdown, an upstream's failure.
  it.each([
    { outcome: 'error', status: 499, reason: 'client-closed' },
    { outcome: 'error', status: 404, reason: 'shutdown' },
    { outcome: 'error', status: 0, reason: 'shutdown' },
    { outcome: 'error', status: 504, reason: 'upstream-timeout' },
  ])('replays an error admitted live: %o', (fields) => {
    expect(new AccessLineParser().parse(line(fields))).toMatchObject({ refusedLive: false });
  });

  // Consecutive lines share their whole second; crossing into the next one is decoded afresh.
  it('decodes times across second boundaries', () => {
    const parser = new AccessLineParser();
    const times = ['2026-12-01T10:00:05.999Z', '2026-12-01T10:00:06.000Z', '2026-12-01T10:00:06.001Z'];
    const ends = times.map((time) => (parser.parse(line({ time })) as { end: number }).end);
    expect(ends).toEqual(times.map(Date.parse));
  });
});

describe('AccessLine.shape', () => {
  // A line in the gateway's own layout, as the synthetic bench log writes it.
  const own = (method: string, path: string, priority = 'normal') =>
    Buffer.from(
      `{"level":"info","time":"2026-12-01T10:00:00.001Z","region":"us-east","status":200,"outcome":"forwarded","priority":"${priority}","durationMs":1.5,"method":"${method}","path":"${path}","requestId":"r","client":"10.0.0.7","bytes":64}`,
    );

  // Lines of one shape must share method and route key: the driver routes them all as the first.
  it('is the same only for lines of the same method and route key', () => {
    const parser = new AccessLineParser(['/api', '/api/video']);
    const methods = ['GET', 'POST', 'HEAD'];
    const paths = ['/api/video/1', '/api/video/2?x', '/api/likes/3', '/other', '/apix', '/api/vid'];
    const byShape = new Map<number, string>();
    let shaped = 0;
    for (const method of methods) {
      for (const path of paths) {
        for (const priority of ['low', 'critical']) {
          const read = parser.parse(own(method, path, priority));
          if (typeof read === 'string') throw new Error(`not read: ${read}`);
          if (read.shape < 0) continue;
          shaped++;
          const pair = `${read.method} ${read.routeKey}`;
          expect(byShape.get(read.shape) ?? pair).toBe(pair);
          byShape.set(read.shape, pair);
        }
      }
    }
    expect(shaped).toBe(methods.length * paths.length * 2);
    expect(byShape.size).toBe(methods.length * 3);
  });

  // A target kept whole, or a line read the general way, has no shape.
  it('is -1 when the route key is the whole target or the line is not in the own layout', () => {
    const parser = new AccessLineParser(['/api']);
    expect(parser.parse(own('GET', 'http://example.test/api/1'))).toMatchObject({ shape: -1 });
    expect(new AccessLineParser().parse(own('GET', '/api/1'))).toMatchObject({ shape: -1 });
    // A space after the brace: the general path reads it.
    const general = Buffer.from(`{ ${own('GET', '/api/1').toString('latin1').slice(1)}`);
    expect(parser.parse(general)).toMatchObject({ shape: -1 });
  });
});
