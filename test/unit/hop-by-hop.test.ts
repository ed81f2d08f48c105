import { describe, expect, it } from 'vitest';
import {
  clientResponseHeaders,
  handshakeAnswerHeaders,
  hasUndecodedCoding,
  headerListToObject,
  prepareUpgradeHeaders,
  upstreamRequestHeaders,
  viaFor,
} from '../../src/http/hop-by-hop.js';
import { upstreamPath } from '../../src/routing/route-table.js';
import { FORWARDED } from '../support/forwarded-values.js';

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

describe('request headers sent upstream', () => {
  // Each row: raw client headers, the connection header, and what must reach the upstream (before x-forwarded-*).
  it.each([
    [
      'keeps ordinary headers in order and spelling',
      ['Host', 'app.example', 'Accept', '*/*', 'X-Api-Key', 'k'],
      undefined,
      [
        ['Host', 'app.example'],
        ['Accept', '*/*'],
        ['X-Api-Key', 'k'],
      ],
    ],
    [
      'drops every hop-by-hop header',
      [
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'TE',
        'trailers',
        'Trailer',
        'x',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'h2c',
        'Proxy-Authorization',
        'Basic x',
        'Proxy-Connection',
        'keep-alive',
        'Accept',
        'a',
      ],
      'keep-alive',
      [['Accept', 'a']],
    ],
    [
      'drops headers named in connection',
      ['Connection', 'close, X-Secret', 'X-Secret', 's', 'X-Public', 'p'],
      'close, X-Secret',
      [['X-Public', 'p']],
    ],
    [
      'never drops Host, even when connection names it',
      ['Host', 'app.example', 'Connection', 'host, HOST, X-A', 'X-A', '1', 'B', '2'],
      'host, HOST, X-A',
      [
        ['Host', 'app.example'],
        ['B', '2'],
      ],
    ],
    [
      // Backends that map `_` to `-` (CGI, WSGI, PHP) would read these as transfer-encoding and x-forwarded-for.
      'drops header names with an underscore, as nginx does',
      [
        'transfer_encoding',
        'chunked',
        'Content-Length',
        '3',
        'X_Forwarded_For',
        '6.6.6.6',
        'x_floodgate_region',
        'eu',
        '_',
        'x',
        'X-Ok',
        'y',
      ],
      undefined,
      [
        ['Content-Length', '3'],
        ['X-Ok', 'y'],
      ],
    ],
    [
      // Classify makes it the target's for an absolute-form target (RFC 9112 §3.2.2).
      "sends the request's host as Host, in the client's place and spelling",
      ['HOST', 'b.example', 'A', 'b'],
      undefined,
      [
        ['HOST', 'app.example'],
        ['A', 'b'],
      ],
    ],
    [
      "replaces the client's x-request-id with the request's id",
      ['X-Request-Id', 'client-sent', 'A', 'b'],
      undefined,
      [['A', 'b']],
    ],
    [
      'drops client-sent x-floodgate-* and x-forwarded-*',
      [
        'X-Floodgate-Region',
        'eu',
        'x-floodgate-shed',
        'rate',
        'X-Forwarded-For',
        '1.2.3.4',
        'X-Forwarded-Host',
        'evil',
        'X-Forwarded-Proto',
        'https',
        'A',
        'b',
      ],
      undefined,
      [['A', 'b']],
    ],
  ])('%s', (_name, raw, connection, expected) => {
    const out = pairs(upstreamRequestHeaders(raw as string[], connection as string | undefined, FORWARDED));
    expect(out.slice(0, -5)).toEqual(expected);
    expect(out.slice(-5)).toEqual([
      ['x-forwarded-for', '10.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'app.example'],
      ['x-request-id', 'req-1'],
      ['via', '1.1 floodgate'],
    ]);
  });

  // Without a Host header there is no x-forwarded-host to set.
  it('omits x-forwarded-host without a host', () => {
    const out = pairs(upstreamRequestHeaders(['A', 'b'], undefined, { ...FORWARDED, host: undefined }));
    expect(out.map(([n]) => n)).toEqual(['A', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'via']);
  });

  // RFC 9110 §7.6.3: each hop appends its entry; the ones before it reach the upstream unchanged.
  it('keeps a via the client sent and adds this hop after it', () => {
    const out = pairs(upstreamRequestHeaders(['Via', '1.0 fred, 1.1 p.example'], undefined, FORWARDED));
    expect(out.filter(([n]) => n.toLowerCase() === 'via')).toEqual([
      ['Via', '1.0 fred, 1.1 p.example'],
      ['via', '1.1 floodgate'],
    ]);
  });

  it.each([
    ['1.0', '1.0 floodgate'],
    ['1.1', '1.1 floodgate'],
    ['2.0', '2 floodgate'],
  ])('names HTTP/%s as the protocol this hop received', (version, via) => {
    expect(viaFor(version)).toBe(via);
  });
});

describe('WebSocket handshake headers sent upstream', () => {
  // connection and upgrade stay for the handshake; what connection names goes, and so does the rest of the hop-by-hop set.
  it('strips headers named in connection but keeps the handshake and Host', () => {
    const headers: Record<string, string> = {
      host: 'app.example',
      connection: 'Upgrade, X-Secret, host, keep-alive',
      upgrade: 'websocket',
      'x-secret': 's',
      'keep-alive': 'timeout=5',
      'proxy-authorization': 'Basic x',
      x_secret: 'u',
      'x-floodgate-region': 'forged',
      'x-forwarded-host': 'forged',
      'sec-websocket-key': 'k',
      'sec-websocket-version': '13',
    };
    prepareUpgradeHeaders(headers, FORWARDED);
    expect(headers).toEqual({
      host: 'app.example',
      connection: 'upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'k',
      'sec-websocket-version': '13',
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.example',
      'x-request-id': 'req-1',
      via: '1.1 floodgate',
    });
  });

  it('appends this hop to the via of a handshake', () => {
    const headers: Record<string, string> = {
      host: 'a',
      connection: 'upgrade',
      upgrade: 'websocket',
      via: '1.1 edge',
    };
    prepareUpgradeHeaders(headers, FORWARDED);
    expect(headers.via).toBe('1.1 edge, 1.1 floodgate');
  });
});

describe('answers to a WebSocket handshake sent to the client', () => {
  const answer = {
    connection: 'Upgrade, X-Secret',
    upgrade: 'websocket',
    'x-secret': 's',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'x-floodgate-shed': 'forged',
    'sec-websocket-accept': 'a',
    'set-cookie': ['a=1', 'b=2'],
  };

  // A 101 keeps what the switch needs; the rest is filtered like any response.
  it('keeps connection: upgrade and upgrade on a 101', () => {
    expect(handshakeAnswerHeaders(answer, true)).toEqual({
      connection: 'upgrade',
      upgrade: 'websocket',
      'sec-websocket-accept': 'a',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  // Any other answer ends with its connection, keeping its content-length when it has one.
  it('closes the connection after any other answer', () => {
    expect(handshakeAnswerHeaders({ ...answer, 'content-length': '5' }, false)).toEqual({
      connection: 'close',
      'content-length': '5',
      'sec-websocket-accept': 'a',
      'set-cookie': ['a=1', 'b=2'],
    });
  });
});

describe('response headers sent to the client', () => {
  // Hop-by-hop and forged x-floodgate-* headers from an upstream are removed; the rest stay.
  it('strips hop-by-hop headers', () => {
    const headers: Record<string, string | string[]> = {
      connection: 'close, x-internal',
      'x-internal': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'proxy-authenticate': 'x',
      'x-floodgate-cache': 'stale',
      'content-type': 'application/json',
      'set-cookie': ['a=1', 'b=2'],
    };
    expect(headerListToObject(clientResponseHeaders(headers))).toEqual({
      'content-type': 'application/json',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  // Only chunked alone is undone on the way; any other coding would reach the client as if it were the content.
  it.each([
    [undefined, false],
    ['chunked', false],
    ['Chunked ', false],
    ['gzip, chunked', true],
    ['gzip', true],
    ['identity', true],
    ['chunked, chunked', true],
    [['gzip', 'chunked'], true],
  ])('treats transfer-encoding %j as undecoded: %s', (value, undecoded) => {
    expect(hasUndecodedCoding(value)).toBe(undecoded);
  });
});

describe('request target', () => {
  // Whatever the target says, only its path and query go upstream; the origin never changes.
  it.each([
    ['/api/likes/1?x=2', '/api/likes/1?x=2'],
    ['//evil.example/steal', '//evil.example/steal'],
    ['http://evil.example/steal?q=1', '/steal?q=1'],
    ['HTTPS://evil.example', '/'],
    ['http://evil.example?x', '/?x'],
    ['*', undefined],
    ['evil.example:443', undefined],
    ['/a#fragment', undefined],
    ['/a?q=1#', undefined],
    ['http://evil.example/a#b', undefined],
  ])('%s -> %s', (target, expected) => {
    expect(upstreamPath(target)).toBe(expected);
  });
});
