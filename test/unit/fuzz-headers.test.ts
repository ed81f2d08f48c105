import type { IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clientResponseHeaders,
  headerListToObject,
  prepareUpgradeHeaders,
  upstreamRequestHeaders,
} from '../../src/http/hop-by-hop.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';
import { FORWARDED } from '../support/forwarded-values.js';

const APPENDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'];
// Answered by the gateway itself (100 Continue once admitted), so never passed on.
const ANSWERED_BY_GATEWAY = 'expect';

// RFC 9110 §7.6.1 and the contract: never forwarded in either direction.
const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const SPECIAL_NAMES = [
  ...HOP_BY_HOP,
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'proxy-',
  'x-floodgate-region',
  'x-floodgate-shed',
  'x-floodgate-',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-private',
  'x-api-key',
  'host',
  'accept',
  'authorization',
  'expect',
  'transfer_encoding',
  'content_length',
  'x_forwarded_for',
];
const EXTRA_FORWARDED_NAMES = [
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-forwarded-',
];

const tokenChar = fc.constantFrom(..."abcxyz-09!#$%&'*+.^_`|~".split(''));
const randomName = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const headerName = (extra: string[] = []) =>
  fc.mixedCase(fc.oneof(fc.constantFrom(...SPECIAL_NAMES, ...extra), randomName));

/** A connection header's value: tokens in any case, with stray commas and whitespace. */
const connectionValue = fc
  .array(fc.tuple(fc.constantFrom('', ' ', '\t', '  '), headerName(), fc.constantFrom('', ' ', '\t')), {
    maxLength: 5,
  })
  .chain((tokens) =>
    fc
      .constantFrom(',', ', ', ' ,', ',,')
      .map((sep) => tokens.map(([a, name, b]) => `${a}${name}${b}`).join(sep)),
  );

const headerValue = fc.string({ unit: 'grapheme-ascii', maxLength: 16 });

/** A client's raw header list: names in any case, with zero or more `connection` headers among them. */
const rawHeaders = (extra: string[] = []) =>
  fc
    .array(
      fc.oneof(
        fc.tuple(headerName(extra), headerValue),
        fc.tuple(fc.mixedCase(fc.constant('connection')), connectionValue),
      ),
      { maxLength: 14 },
    )
    .map((pairs) => pairs.flat());

function connectionOf(raw: string[]): string | string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === 'connection') values.push(raw[i + 1]!);
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}

function namedByConnection(value: string | string[] | undefined): Set<string> {
  return new Set(
    [value ?? []]
      .flat()
      .flatMap((v) => v.split(','))
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
}

/** Dropped from requests: the hop-by-hop set, gateway-owned names, underscore names, and what connection names but Host. */
function mustDrop(lower: string, named: Set<string>): boolean {
  return (
    HOP_BY_HOP.includes(lower) ||
    lower.startsWith('proxy-') ||
    lower.startsWith('x-floodgate-') ||
    APPENDED.includes(lower) ||
    lower === ANSWERED_BY_GATEWAY ||
    lower.includes('_') ||
    (named.has(lower) && lower !== 'host')
  );
}

/** The client's own headers as they reach the upstream, without the gateway's x-forwarded-* at the end. */
function clientPart(out: string[]): string[] {
  expect(out.slice(-10)).toEqual([
    'x-forwarded-for',
    FORWARDED.forwardedFor,
    'x-forwarded-proto',
    FORWARDED.proto,
    'x-forwarded-host',
    FORWARDED.host,
    'x-request-id',
    FORWARDED.requestId,
    'via',
    FORWARDED.via,
  ]);
  return out.slice(0, -10);
}

describe('hop-by-hop stripping under arbitrary headers', () => {
  failOnStrayErrors();

  // No hop-by-hop, proxy-*, x-floodgate-*, expect, underscore, client x-forwarded-for/proto/host or connection-named header (Host aside) survives.
  it('drops every hop-by-hop and gateway-owned request header, whatever its case', () => {
    fc.assert(
      fc.property(rawHeaders(), (raw) => {
        const connection = connectionOf(raw);
        const named = namedByConnection(connection);
        const kept = clientPart(upstreamRequestHeaders(raw, connection, FORWARDED));
        for (let i = 0; i < kept.length; i += 2) expect(mustDrop(kept[i]!.toLowerCase(), named)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  // Every other header reaches the upstream with its spelling, value and order unchanged; Host
  // keeps its spelling and place, with the request's host as its value (an absolute-form target's own).
  it('keeps every end-to-end request header as sent', () => {
    fc.assert(
      fc.property(rawHeaders(), (raw) => {
        const connection = connectionOf(raw);
        const named = namedByConnection(connection);
        const expected: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const lower = raw[i]!.toLowerCase();
          if (!mustDrop(lower, named))
            expected.push(raw[i]!, lower === 'host' ? FORWARDED.host! : raw[i + 1]!);
        }
        expect(clientPart(upstreamRequestHeaders(raw, connection, FORWARDED))).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  // The x-forwarded-* family is the gateway's to set: a client's x-forwarded-port or -prefix must not reach the upstream either.
  it('drops every client-sent x-forwarded-* header, not only for, proto and host', () => {
    fc.assert(
      fc.property(rawHeaders(EXTRA_FORWARDED_NAMES), (raw) => {
        const kept = clientPart(upstreamRequestHeaders(raw, connectionOf(raw), FORWARDED));
        for (let i = 0; i < kept.length; i += 2) expect(kept[i]!.toLowerCase()).not.toMatch(/^x-forwarded-/);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  // A WebSocket handshake keeps connection (as `upgrade`), upgrade, Host and expect, and loses everything else upstreamRequestHeaders drops.
  it('strips handshake headers the same way, keeping what the handshake needs', () => {
    fc.assert(
      fc.property(rawHeaders(), (raw) => {
        const connection = connectionOf(raw);
        const named = namedByConnection(connection);
        const headers: IncomingHttpHeaders = {};
        for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toLowerCase()] = raw[i + 1]!;
        headers.connection = connection === undefined ? 'upgrade' : [connection].flat().join(', ');
        headers.upgrade = 'websocket';
        const before = { ...headers };
        prepareUpgradeHeaders(headers, FORWARDED);
        const expected: IncomingHttpHeaders = {};
        for (const name of Object.keys(before)) {
          // Node answers expect: 100-continue only on ordinary requests; a handshake passes it on.
          const needed = name === 'connection' || name === 'upgrade';
          const passedOn = name === ANSWERED_BY_GATEWAY && !named.has(name);
          if (needed || passedOn || !mustDrop(name, named)) expected[name] = before[name];
        }
        expected.connection = 'upgrade';
        Object.assign(expected, {
          'x-forwarded-for': FORWARDED.forwardedFor,
          'x-forwarded-proto': FORWARDED.proto,
          'x-forwarded-host': FORWARDED.host,
          'x-request-id': FORWARDED.requestId,
        });
        const via = expected.via;
        expected.via = via === undefined || via === '' ? FORWARDED.via : `${via}, ${FORWARDED.via}`;
        expect(headers).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);

  // A response loses its hop-by-hop, proxy-*, x-floodgate-* and connection-named headers and keeps the rest.
  it('strips response headers the same way', () => {
    // Names arrive lower-cased (undici's parsed form); connection tokens may be in any case.
    const responseHeaders = fc
      .array(
        fc.oneof(
          fc.tuple(
            headerName().map((n) => n.toLowerCase()),
            fc.oneof(headerValue, fc.array(headerValue, { minLength: 2, maxLength: 3 })),
          ),
          fc.tuple(
            fc.constant('connection'),
            fc.oneof(connectionValue, fc.array(connectionValue, { minLength: 2, maxLength: 3 })),
          ),
        ),
        { maxLength: 14 },
      )
      .map((pairs) => Object.fromEntries(pairs) as IncomingHttpHeaders);
    fc.assert(
      fc.property(responseHeaders, (headers) => {
        const named = namedByConnection(headers.connection);
        const expected = Object.fromEntries(
          Object.entries(headers).filter(([name]) => {
            const dropped =
              HOP_BY_HOP.includes(name) || name.startsWith('proxy-') || (named.has(name) && name !== 'host');
            return !dropped && !name.startsWith('x-floodgate-');
          }),
        );
        expect(headerListToObject(clientResponseHeaders(headers))).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);
});
