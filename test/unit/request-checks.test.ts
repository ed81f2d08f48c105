import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REFUSALS, refusalForParserError } from '../../src/http/errors.js';
import { isValidHost, type RequestHead, requestProblem } from '../../src/http/request-checks.js';

const MAX_BODY_BYTES = 1000;

/** A request head as node:http hands it over: raw headers, and the parsed transfer-encoding. */
function head(version: string, raw: string[]): RequestHead {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    headers[name] = headers[name] === undefined ? raw[i + 1]! : `${headers[name]}, ${raw[i + 1]}`;
  }
  return { httpVersionMajor: major, httpVersionMinor: minor, rawHeaders: raw, headers };
}

describe('request checks before admission', () => {
  // Each row: name, HTTP version, raw headers, the refusal (undefined: the request goes on).
  it.each([
    ['an ordinary HTTP/1.1 request', '1.1', ['Host', 'app.example', 'Accept', '*/*'], undefined],
    ['an HTTP/1.0 request without Host', '1.0', ['Accept', '*/*'], undefined],
    ['a chunked HTTP/1.1 request', '1.1', ['Host', 'a', 'Transfer-Encoding', 'chunked'], undefined],
    ['HTTP/1.1 without Host', '1.1', ['Accept', '*/*'], 'bad-host'],
    ['two Host headers', '1.1', ['Host', 'a', 'host', 'a'], 'bad-host'],
    ['an empty Host', '1.1', ['Host', ''], 'bad-host'],
    ['a Host with a space', '1.1', ['Host', 'a b'], 'bad-host'],
    ['a Host with a slash', '1.1', ['Host', 'a/b'], 'bad-host'],
    ['a Host that is a list', '1.1', ['Host', 'a, b'], 'bad-host'],
    ['an invalid Host on HTTP/1.0', '1.0', ['Host', 'a b'], 'bad-host'],
    ['HTTP/1.0 with transfer-encoding', '1.0', ['Host', 'a', 'Transfer-Encoding', 'chunked'], 'bad-framing'],
    ['HTTP/1.0 with a lower-case transfer-encoding', '1.0', ['transfer-encoding', 'chunked'], 'bad-framing'],
    [
      'a coding list not ending in chunked',
      '1.1',
      ['Host', 'a', 'Transfer-Encoding', 'chunked, gzip'],
      'bad-framing',
    ],
    ['a sole unknown coding', '1.1', ['Host', 'a', 'Transfer-Encoding', 'xchunked'], 'bad-framing'],
    ['CHUNKED in capitals', '1.1', ['Host', 'a', 'Transfer-Encoding', 'CHUNKED'], undefined],
    ['a declared body at maxBodyBytes', '1.1', ['Host', 'a', 'Content-Length', '1000'], undefined],
    ['a declared body over maxBodyBytes', '1.1', ['Host', 'a', 'Content-Length', '1001'], 'body-too-large'],
    [
      'chunked after another coding',
      '1.1',
      ['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'],
      'not-implemented',
    ],
    ['an HTTP/2.0 request line over HTTP/1', '2.0', ['Host', 'a'], 'version-not-supported'],
    ['a version-less (HTTP/0.9) request line', '0.9', [], 'bad-version'],
    ['a version-less request line with a Host', '0.9', ['Host', 'a'], 'bad-version'],
  ])('%s', (_name, version, raw, expected) => {
    expect(requestProblem(head(version, raw), MAX_BODY_BYTES)).toBe(expected);
  });

  // Every refusal of bad input has its status and the reason it is counted under.
  it('gives each refusal a status and a bad-request reason', () => {
    expect(REFUSALS['bad-host']).toMatchObject({ status: 400, badRequest: 'bad-host' });
    expect(REFUSALS['bad-framing']).toMatchObject({ status: 400, badRequest: 'bad-framing' });
    expect(REFUSALS['version-not-supported']).toMatchObject({
      status: 505,
      badRequest: 'version',
    });
    expect(REFUSALS['bad-version']).toMatchObject({ status: 400, badRequest: 'version' });
    expect(REFUSALS['body-too-large']).toMatchObject({
      status: 413,
      badRequest: 'body-too-large',
    });
    expect(REFUSALS['bad-request'].badRequest).toBe('malformed');
    expect(REFUSALS.rate.badRequest).toBeUndefined();
  });
});

describe('Host values (RFC 9112 §3.2, RFC 3986 host [ ":" port ])', () => {
  // Valid: reg-names, IPv4, bracketed IPv6, with or without a port.
  it.each([
    'app.example',
    'APP.Example:8080',
    'a',
    'xn--caf-dma.example',
    'under_score.example',
    'trailing.dot.',
    '127.0.0.1',
    '127.0.0.1:80',
    '[::1]',
    '[::1]:8443',
    '[2001:db8::a:b]:1',
    'a%2Db',
    "a!$&'()*+;=~.example",
    'a:',
  ])('accepts %j', (value) => {
    expect(isValidHost(value)).toBe(true);
  });

  // Invalid: empty, whitespace, path and list separators, userinfo, bad literals and ports, non-ASCII.
  it.each([
    '',
    ' ',
    'a b',
    ' a',
    'a\t',
    'a/b',
    'a\\b',
    'a, b',
    'a,b',
    'user@a',
    'a?b',
    'a#b',
    ':80',
    'a:8x',
    'a:80:80',
    '[::1',
    '[]',
    '[not-ipv6]',
    '[::1]x',
    '[fe80::1%eth0]',
    '[v1.x]',
    '[::1]:a',
    '::1',
    'a%2',
    'a%zz',
    'caf\u00e9',
    'a"b',
    'a<b',
    'a\u0000',
  ])('refuses %j', (value) => {
    expect(isValidHost(value)).toBe(false);
  });

  // Whatever the value, a Host that isValidHost refuses is refused, and one it accepts goes on.
  it('agrees with requestProblem for any single Host value', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 24 }), (value) => {
        const refusal = requestProblem(head('1.1', ['Host', value]), MAX_BODY_BYTES);
        expect(refusal === 'bad-host').toBe(!isValidHost(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parser refusals', () => {
  // node:http's clientError codes map to a refusal of the one table, each with its counted reason.
  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'headers-too-large'],
    ['HPE_INVALID_METHOD', 400, 'method'],
    ['HPE_INVALID_VERSION', 400, 'version'],
    ['HPE_PAUSED_H2_UPGRADE', 505, 'version'],
    ['HPE_INVALID_CONTENT_LENGTH', 400, 'bad-framing'],
    ['HPE_UNEXPECTED_CONTENT_LENGTH', 400, 'bad-framing'],
    ['HPE_INVALID_TRANSFER_ENCODING', 400, 'bad-framing'],
    ['HPE_INVALID_CHUNK_SIZE', 400, 'bad-framing'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'body-too-large'],
    ['HPE_INVALID_HEADER_TOKEN', 400, 'malformed'],
    ['HPE_LF_EXPECTED', 400, 'malformed'],
    [undefined, 400, 'malformed'],
  ])('%s -> %d %s', (code, status, reason) => {
    const spec = REFUSALS[refusalForParserError(code, false)];
    expect(spec).toMatchObject({ status, badRequest: reason });
  });

  // Node reports both deadlines as one error: whether the headers had arrived tells them apart.
  it('tells a headers timeout from a request timeout', () => {
    expect(REFUSALS[refusalForParserError('ERR_HTTP_REQUEST_TIMEOUT', false)]).toMatchObject({
      status: 408,
      badRequest: 'headers-timeout',
    });
    expect(REFUSALS[refusalForParserError('ERR_HTTP_REQUEST_TIMEOUT', true)]).toMatchObject({
      status: 408,
      badRequest: 'request-timeout',
    });
  });
});
