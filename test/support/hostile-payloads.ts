import type { BadRequestReason } from '../../src/observability/metrics.js';

// Requests for the raw-socket tests (hostile-requests.test.ts), and the listen limits they are built against.

export const HEADERS_TIMEOUT_MS = 500;
export const REQUEST_TIMEOUT_MS = 1500;
export const MAX_HEADER_BYTES = 2048;
export const MAX_BODY_BYTES = 1000;
// The contract's "about a second" after a deadline, plus room for a busy CI machine.
export const DEADLINE_SLACK_MS = 1000 + 750;

export const H = 'Host: app.example\r\n';
export const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\n${H}${extra}Connection: close\r\n\r\n`;
export const post = (headers: string, body = '') => `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`;
export const CHUNKED = 'Transfer-Encoding: chunked\r\n';
export const LAST_CHUNK = '0\r\n\r\n';
const withHost = (value: string) => `GET /a HTTP/1.1\r\nHost: ${value}\r\nConnection: close\r\n\r\n`;
/** A WebSocket handshake: `hostLine` is a whole header line or nothing. */
export const handshake = (hostLine: string, connection = 'Upgrade', extra = '') =>
  `GET /ws HTTP/1.1\r\n${hostLine}Upgrade: websocket\r\nConnection: ${connection}\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
const http10Chunked = `POST /p HTTP/1.0\r\n${H}${CHUNKED}Connection: keep-alive\r\n\r\n${LAST_CHUNK}`;

/**
 * Refused before any handler runs or by the gateway's own checks: [name, payload, status, the
 * `floodgate_bad_requests_total` reason]. Parser refusals take their reason from llhttp's error
 * code (a bare LF after the version is llhttp's HPE_INVALID_VERSION, hence `version`).
 */
export const REFUSED: [string, string, number, BadRequestReason][] = [
  ['duplicate transfer-encoding', post(`${CHUNKED}${CHUNKED}`, LAST_CHUNK), 400, 'bad-framing'],
  [
    'transfer-encoding listed twice',
    post('Transfer-Encoding: chunked, chunked\r\n', LAST_CHUNK),
    400,
    'bad-framing',
  ],
  [
    'chunked not the final coding',
    post('Transfer-Encoding: chunked, gzip\r\n', LAST_CHUNK),
    400,
    'bad-framing',
  ],
  ['unknown sole transfer-encoding', post('Transfer-Encoding: xchunked\r\n'), 400, 'bad-framing'],
  ['transfer-encoding identity', post('Transfer-Encoding: identity\r\n'), 400, 'bad-framing'],
  [
    'transfer-encoding with content-length',
    post(`Content-Length: 4\r\n${CHUNKED}`, LAST_CHUNK),
    400,
    'bad-framing',
  ],
  [
    'whitespace before the colon of transfer-encoding',
    post('Transfer-Encoding : chunked\r\n', LAST_CHUNK),
    400,
    'malformed',
  ],
  ['obs-fold with a space', get('/a', 'X-A: one\r\n two\r\n'), 400, 'malformed'],
  ['obs-fold with a tab', get('/a', 'X-A: one\r\n\ttwo\r\n'), 400, 'malformed'],
  ['bare LF line endings', 'GET /a HTTP/1.1\nHost: a\n\n', 400, 'version'],
  ['bare LF inside the headers', 'GET /a HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n', 400, 'malformed'],
  ['bare CR inside the headers', 'GET /a HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n', 400, 'malformed'],
  ['whitespace before the first header name', 'GET /a HTTP/1.1\r\n Host: a\r\n\r\n', 400, 'malformed'],
  ['whitespace before a later header name', get('/a', ' X-A: b\r\n'), 400, 'malformed'],
  ['space before the colon', get('/a', 'X-A : b\r\n'), 400, 'malformed'],
  ['tab before the colon', get('/a', 'X-A\t: b\r\n'), 400, 'malformed'],
  ['empty content-length', post('Content-Length: \r\n'), 400, 'bad-framing'],
  [
    'conflicting content-length',
    post('Content-Length: 1\r\nContent-Length: 2\r\n', 'ab'),
    400,
    'bad-framing',
  ],
  [
    'duplicate equal content-length',
    post('Content-Length: 2\r\nContent-Length: 2\r\n', 'ab'),
    400,
    'bad-framing',
  ],
  ['content-length as a list', post('Content-Length: 2, 2\r\n', 'ab'), 400, 'bad-framing'],
  ['negative content-length', post('Content-Length: -1\r\n'), 400, 'bad-framing'],
  ['content-length with a plus sign', post('Content-Length: +2\r\n', 'ab'), 400, 'bad-framing'],
  ['hexadecimal content-length', post('Content-Length: 0x2\r\n', 'ab'), 400, 'bad-framing'],
  [
    'content-length beyond 2^64',
    post('Content-Length: 99999999999999999999999\r\n', 'ab'),
    400,
    'bad-framing',
  ],
  ['empty header name', get('/a', ': b\r\n'), 400, 'malformed'],
  ['NUL in a header value', get('/a', 'X-A: b\0c\r\n'), 400, 'malformed'],
  ['NUL in a header name', get('/a', 'X-\0A: b\r\n'), 400, 'malformed'],
  ['NUL in the target', get('/a\0b'), 400, 'malformed'],
  ['DEL in a header value', get('/a', 'X-A: b\x7fc\r\n'), 400, 'malformed'],
  ['control character in a header value', get('/a', 'X-A: b\x01c\r\n'), 400, 'malformed'],
  ['space inside the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'malformed'],
  ['raw UTF-8 bytes in the target', get('/caf\xc3\xa9'), 400, 'malformed'],
  ['HTTP/1.1 without Host', 'GET /a HTTP/1.1\r\n\r\n', 400, 'bad-host'],
  ['unknown HTTP version', 'GET /a HTTP/1.2\r\nHost: a\r\n\r\n', 400, 'version'],
  ['lower-case method', 'get /a HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'method'],
  ['unknown method', 'FOO /a HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'method'],
  ['chunk size that is not hex', post(CHUNKED, `zz\r\nab\r\n${LAST_CHUNK}`), 400, 'bad-framing'],
  ['chunk size overflow', post(CHUNKED, `fffffffffffffffffff\r\nab\r\n${LAST_CHUNK}`), 400, 'bad-framing'],
  ['chunk framing with bare LF', post(CHUNKED, '2\nab\n0\n\n'), 400, 'malformed'],
  // RFC 9112 §3.2.4: the asterisk-form is for OPTIONS only (max-forwards.test.ts has OPTIONS *).
  ['asterisk-form target on GET', get('*'), 400, 'malformed'],
  // RFC 9112 §3.2: no request-target form has a fragment; llhttp lets `#` through.
  ['a fragment in an origin-form target', get('/a#fragment'), 400, 'malformed'],
  ['a fragment in an absolute-form target', get('http://app.example/a?q=1#f'), 400, 'malformed'],
  ['a lone "#" after the path', get('/a#'), 400, 'malformed'],
  [
    'one header over maxHeaderBytes',
    get('/a', `X-Big: ${'a'.repeat(MAX_HEADER_BYTES + 100)}\r\n`),
    431,
    'headers-too-large',
  ],
  [
    'many headers summing over maxHeaderBytes',
    get('/a', 'X-Header-Name: some-value\r\n'.repeat(200)),
    431,
    'headers-too-large',
  ],
  [
    'request line over maxHeaderBytes',
    get(`/${'a'.repeat(MAX_HEADER_BYTES + 100)}`),
    431,
    'headers-too-large',
  ],
  ['HTTP/1.0 with transfer-encoding, asking for keep-alive', http10Chunked, 400, 'bad-framing'],
  ['HTTP/2.0 request line over HTTP/1', 'GET /a HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'version'],
  ['HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505, 'version'],
  ['version-less (HTTP/0.9) request line', 'GET /a\r\n\r\n', 400, 'version'],
  ['empty Host', withHost(''), 400, 'bad-host'],
  ['Host with a space', withHost('a b'), 400, 'bad-host'],
  ['Host with a slash', withHost('a/b'), 400, 'bad-host'],
  ['Host that is a list', withHost('a, b'), 400, 'bad-host'],
  ['Host with userinfo', withHost('user@a'), 400, 'bad-host'],
  ['WebSocket handshake without Host', handshake(''), 400, 'bad-host'],
  ['WebSocket handshake with an invalid Host', handshake('Host: a b\r\n'), 400, 'bad-host'],
  [
    'declared body over maxBodyBytes',
    post(`Content-Length: ${MAX_BODY_BYTES + 1}\r\n`),
    413,
    'body-too-large',
  ],
];
