import { isIPv6 } from 'node:net';
import type { Refusal } from './errors.js';

/**
 * What the checks read from a request that node:http parsed on an HTTP/1.x connection. An
 * `IncomingMessage` is one; an HTTP/2 stream (`Http2ServerRequest`) is not checked here: its
 * framing and `:authority` are the http2 module's, and its version is legitimately 2.
 */
export interface RequestHead {
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly rawHeaders: readonly string[];
  readonly headers: {
    readonly 'transfer-encoding'?: string | undefined;
    readonly 'content-length'?: string | undefined;
  };
}

/**
 * The gateway's own refusals of malformed or oversized input, decided once per request before
 * admission (no tokens, no breaker). node:http's parser (llhttp, strict) has
 * already refused what it can; these are the rules it leaves to the application:
 *
 * - RFC 9110 §6.2, RFC 9112 §2.3: only HTTP/1.x is spoken here. llhttp accepts an `HTTP/2.0`
 *   request line (505) and a request line without a version, which it reads as HTTP/0.9 (400).
 * - RFC 9112 §6.1: `transfer-encoding` in an HTTP/1.0 request is faulty framing (400);
 *   llhttp would decode it as chunked, which an HTTP/1.0 peer on the way may not have done.
 * - RFC 9112 §3.2: an HTTP/1.1 request without Host, with more than one, or with one that is not
 *   a valid `host[:port]` is 400 (Node's own missing-Host answer is turned off so this one counts).
 * - a transfer coding list that does not end in `chunked` is 400, and `chunked` after another
 *   coding is 501: forwarding it without the header would hand the upstream a body it cannot read.
 * - a declared body over `maxBodyBytes` is 413, before any upstream connection.
 *
 * Allocation-free on the path of a well-formed request: char loops, no regexes, no splitting.
 */
export function requestProblem(req: RequestHead, maxBodyBytes: number): Refusal | undefined {
  const major = req.httpVersionMajor;
  if (major !== 1) return major === 2 ? 'version-not-supported' : 'bad-version';
  const http10 = req.httpVersionMinor === 0;
  const codings = req.headers['transfer-encoding'];
  if (codings !== undefined) {
    if (http10) return 'bad-framing';
    const problem = transferCodingProblem(codings);
    if (problem !== undefined) return problem;
  }
  if (hostProblem(req.rawHeaders, !http10)) return 'bad-host';
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBodyBytes) return 'body-too-large';
  return undefined;
}

/** A transfer coding list the gateway cannot forward: not ending in `chunked` (400), or `chunked` after another coding (501). */
function transferCodingProblem(codings: string): 'bad-framing' | 'not-implemented' | undefined {
  if (equalsIgnoringCase(codings, 'chunked')) return undefined;
  const last = codings.slice(codings.lastIndexOf(',') + 1).trim();
  return equalsIgnoringCase(last, 'chunked') ? 'not-implemented' : 'bad-framing';
}

// The last Host value found valid. A gateway sees few distinct hosts, and comparing with the
// previous one costs less than walking its characters again; only valid values are kept.
let lastValidHost = '';

function hostProblem(rawHeaders: readonly string[], required: boolean): boolean {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name !== 'Host' && name !== 'host' && !equalsIgnoringCase(name, 'host')) continue;
    if (value !== undefined) return true;
    value = rawHeaders[i + 1]!;
  }
  if (value === undefined) return required;
  if (value === lastValidHost) return false;
  if (!isValidHost(value)) return true;
  lastValidHost = value;
  return false;
}

// RFC 3986 reg-name characters: unreserved and sub-delims, but not `,`. A comma is a sub-delim, yet
// the value is copied into x-forwarded-host, a list where it would read as two hosts; no DNS name
// has one. `%` starts a pct-encoded octet and is checked on its own.
const REG_NAME = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+;=")
  REG_NAME[c.charCodeAt(0)] = 1;
const COLON = 0x3a;
const PERCENT = 0x25;
const DOT = 0x2e;
const OPEN_BRACKET = 0x5b;

/**
 * RFC 9112 §3.2: Host = uri-host [ ":" port ] (RFC 3986 §3.2.2, §3.2.3): a reg-name (an IPv4
 * address is one), or an IPv6 literal in brackets, then optionally `:` and digits. Empty is
 * refused: an `http` URI must not have an empty host (RFC 9110 §4.2.1). IPvFuture literals are
 * refused too: no client sends them and no URL parser on the way reads them.
 */
export function isValidHost(value: string): boolean {
  const n = value.length;
  let i = 0;
  if (n > 0 && value.charCodeAt(0) === OPEN_BRACKET) {
    const close = value.indexOf(']');
    if (close < 0) return false;
    // isIPv6 also takes a zone (`fe80::1%eth0`), which has no place in a Host (RFC 9110 §4.2.1).
    for (i = 1; i < close; i++) {
      const c = value.charCodeAt(i);
      if (!isHex(c) && c !== COLON && c !== DOT) return false;
    }
    if (!isIPv6(value.slice(1, close))) return false;
    i = close + 1;
  } else {
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c === COLON) break;
      if (c === PERCENT) {
        if (!isHex(value.charCodeAt(i + 1)) || !isHex(value.charCodeAt(i + 2))) return false;
        i += 3;
      } else if (REG_NAME[c] === 1) i++;
      else return false;
    }
    if (i === 0) return false;
  }
  if (i === n) return true;
  if (value.charCodeAt(i) !== COLON) return false;
  for (i++; i < n; i++) if (!isDigit(value.charCodeAt(i))) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** `name` equals the lower-case ASCII `lower` in any case; no string is made. */
export function equalsIgnoringCase(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    const folded = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    if (folded !== lower.charCodeAt(i)) return false;
  }
  return true;
}
