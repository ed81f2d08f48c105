import type { Http2ServerRequest } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { http1HeaderList, http2HasBody, http2RequestProblem } from '../../src/http/http2-request.js';

// How an HTTP/2 stream's headers become an HTTP/1.1 request upstream, and what is refused first.

function stream(rawHeaders: string[], endAfterHeaders = true): Http2ServerRequest {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return { rawHeaders, headers, stream: { endAfterHeaders } } as unknown as Http2ServerRequest;
}

const PSEUDO = [':method', 'GET', ':path', '/a?b=1', ':scheme', 'https', ':authority', 'app.example'];

describe('http1HeaderList', () => {
  // Each row: the stream's raw headers, the list sent upstream.
  it.each([
    [
      'pseudo-headers dropped, :authority as host first',
      [...PSEUDO, 'accept', '*/*'],
      ['host', 'app.example', 'accept', '*/*'],
    ],
    // RFC 9113 §8.3.1: an intermediary making a Host MUST use :authority (one naming another is refused first).
    ['a Host header sent too gives way', [...PSEUDO, 'host', 'App.Example'], ['host', 'app.example']],
    ['a Host header alone is kept', [':method', 'GET', 'host', 'app.example'], ['host', 'app.example']],
    [
      'cookies joined into one field',
      [...PSEUDO, 'cookie', 'a=1', 'x-y', 'z', 'cookie', 'b=2'],
      ['host', 'app.example', 'x-y', 'z', 'cookie', 'a=1; b=2'],
    ],
    ['no authority, no host invented', [':method', 'GET', ':path', '/'], []],
  ])('%s', (_what, raw, expected) => {
    expect(http1HeaderList(stream(raw))).toEqual(expected);
  });
});

describe('http2RequestProblem', () => {
  // Each row: the stream's raw headers, the refusal (undefined: admitted to the next step).
  it.each([
    ['a valid authority', [...PSEUDO], undefined],
    ['an authority with a port', [':authority', 'app.example:8443'], undefined],
    ['no authority and no host', [':method', 'GET', ':path', '/'], 'bad-host'],
    ['an authority that is a list', [':authority', 'a.example,b.example'], 'bad-host'],
    // §8.3.1: a Host naming another entity than :authority is malformed (else the cache and the
    // upstream would each be told a different host).
    ['a Host naming another host', [...PSEUDO, 'host', 'victim.example'], 'bad-host'],
    ['a Host naming the same host', [...PSEUDO, 'host', 'APP.example'], undefined],
    ['a Host alone, valid', [':method', 'GET', 'host', 'app.example'], undefined],
    ['a Host alone, a list', [':method', 'GET', 'host', 'a.example, b.example'], 'bad-host'],
    ['a declared body over the limit', [...PSEUDO, 'content-length', '1001'], 'body-too-large'],
    ['a declared body at the limit', [...PSEUDO, 'content-length', '1000'], undefined],
    // Counted as HTTP/1.1 would carry them: 'x: ' + value + CRLF; pseudo-headers by their values.
    ['headers at the limit', [':authority', 'a', ':path', 'p'.repeat(91), 'x', 'v'.repeat(395)], undefined],
    [
      'headers a byte over it',
      [':authority', 'a', ':path', 'p'.repeat(91), 'x', 'v'.repeat(396)],
      'headers-too-large',
    ],
    [
      'many small fields over it',
      [...PSEUDO, ...Array.from({ length: 100 }, () => ['a', 'b'])].flat(),
      'headers-too-large',
    ],
  ])('%s', (_what, raw, expected) => {
    expect(http2RequestProblem(stream(raw as string[]), { maxBodyBytes: 1000, maxHeaderBytes: 500 })).toBe(
      expected,
    );
  });
});

describe('http2HasBody', () => {
  // A body is DATA frames: none when the stream ended with its headers, or when it declares 0 bytes.
  it('follows END_STREAM on the headers, not content-length', () => {
    expect(http2HasBody(stream([...PSEUDO], true))).toBe(false);
    expect(http2HasBody(stream([...PSEUDO], false))).toBe(true);
    expect(http2HasBody(stream([...PSEUDO, 'content-length', '0'], false))).toBe(false);
  });
});
