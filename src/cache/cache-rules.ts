/**
 * The RFC 9111 shared-cache rules the stale cache applies, and which of them http-cache-semantics
 * (4.3.0, `shared: true`) decides. The library decides:
 *
 * - storability (§3): request no-store, method, status, response no-store, `private` (shared), and
 *   a request with `authorization` unless the response says `public`, `s-maxage` or
 *   `must-revalidate` (§3.5);
 * - freshness (§4.2.1, §4.2.2): s-maxage, max-age, Expires against Date, the Last-Modified
 *   heuristic; `proxy-revalidate` makes a shared copy never fresh, `no-cache` too;
 * - age (§4.2.3): the corrected initial age plus the time kept (the library reads Age for the former;
 *   `responseForPolicy` shows it the larger of Age and the apparent age from Date);
 * - whether a stored copy answers a request (§4, §4.1, §5.2.1): the target and Host, the method,
 *   the headers named by Vary, the request's no-cache (and Pragma: no-cache, §5.4), max-age,
 *   min-fresh and max-stale, and must-revalidate, which it never lets answer without revalidation.
 *
 * What this module adds: the cheap checks that keep the library off responses that can never be
 * kept; the contract's own refusals (`set-cookie`, `vary: *`, which the library stores) and a Vary
 * on a header the gateway rewrites; header values made single strings (the library reads them as
 * strings, undici gives repeats as arrays) and directives with an empty argument made plain;
 * and §4.2.4 for a copy that is no longer fresh: served only while the gateway cannot get a fresh
 * answer (a disconnected cache may), never where no-cache, must-revalidate, proxy-revalidate or
 * s-maxage forbid it. The library's own max-stale path does not check those, so such a copy is
 * kept only while fresh; and no longer past fresh than a `stale-if-error` allows (RFC 5861 §4).
 */
import type { IncomingHttpHeaders } from 'node:http';
import CachePolicy from 'http-cache-semantics';
import { connectionTokens, rewrittenUpstream } from '../http/hop-by-hop.js';

/** What the cache reads of a request; a per-request context with these fields can be passed as is. */
export interface CacheRequest {
  readonly method: string;
  /** The request target as forwarded upstream: path and query. */
  readonly url: string;
  /** The client's request headers (`host`, or HTTP/2's `:authority`, among them). */
  readonly headers: IncomingHttpHeaders;
  /** The same as sent, line by line (`[name, value, ...]`): what the upstream got. */
  readonly rawHeaders: readonly string[];
  /** The scheme the client used: `https` on a TLS listener. */
  readonly scheme: 'http' | 'https';
  /** The home region: a copy made for one region is never served for another. */
  readonly region: string;
}

type Headers = CachePolicy.Headers;

/** Whether a response could be kept at all, before any header is read (the hot path's check). */
export function mayBeKept(method: string, status: number, ttlMs: number | undefined): boolean {
  return status === 200 && method === 'GET' && ttlMs !== undefined && ttlMs > 0;
}

/** The cache key: method, scheme, Host and target (RFC 9111 §2), and the home region. */
export function cacheKey(request: CacheRequest): string {
  return `${request.region} GET ${request.scheme}://${normalAuthority(request)}${request.url}`;
}

/**
 * The authority as RFC 9110 §4.2.3 compares it: the host in lower case, without the scheme's
 * default port (or an empty one). Else `Host: API.example:80` names another URI than `api.example`,
 * and a DELETE sent with one left the copy kept under the other.
 */
function normalAuthority(request: CacheRequest): string {
  const authority = authorityOf(request.headers)?.toLowerCase() ?? '';
  const defaultPort = request.scheme === 'https' ? ':443' : ':80';
  if (authority.endsWith(defaultPort)) return authority.slice(0, -defaultPort.length);
  return authority.endsWith(':') ? authority.slice(0, -1) : authority;
}

/** A CachePolicy class reading the cache's clock, so ages and freshness follow an injected clock. */
export function clockedPolicy(now: () => number): typeof CachePolicy {
  return class ClockedPolicy extends CachePolicy {
    // The library reads time only through this method (its typings leave it out), meant to be replaced.
    now(): number {
      return now();
    }
  };
}

/** The names a response's Vary lists, lower case; `*` among them means no request matches. */
export function varyNames(headers: Headers): string[] {
  const vary = headers.vary;
  if (vary === undefined) return [];
  const names: string[] = [];
  for (const name of (typeof vary === 'string' ? vary : vary.join(',')).split(',')) {
    const lower = name.trim().toLowerCase();
    if (lower !== '') names.push(lower);
  }
  return names;
}

/**
 * The request as the library is shown it: only what it reads (Host, Authorization, the cache
 * directives and the headers Vary names), so a kept copy never holds a client's cookies.
 */
export function requestForPolicy(request: CacheRequest, vary: readonly string[]): CachePolicy.Request {
  const from = request.headers;
  const headers: Headers = { host: normalAuthority(request) };
  // An empty Authorization is still one (§3.5); the library tests it for truthiness.
  if (from.authorization !== undefined) headers.authorization = from.authorization || '(empty)';
  // Host as it was compared for the key, even when Vary names it.
  for (const name of vary) if (name !== 'host') copyJoined(from, headers, name);
  copyDirectives(from, headers);
  return { method: request.method, url: request.url, headers };
}

/** The response fields the library reads; it is shown only these, so it keeps no other copy. */
const POLICY_RESPONSE_FIELDS = ['expires', 'date', 'last-modified', 'vary', 'etag'] as const;

/**
 * The response as the library is shown it: repeated fields joined into one list (two
 * Cache-Control lines are one list, RFC 9110 §5.3), directives in lower case (§5.2: compared
 * case-insensitively; the library compares exactly), and an Age that is not a non-negative integer
 * ignored, a list-valued one read by its first member (§5.1). The library's age counts only Age,
 * so Age is shown as the corrected initial age of §4.2.3: at least the apparent age, the time
 * since the response's Date when that was before `receivedAtMs` (an answer relayed from an older
 * cache that sent no Age).
 */
export function responseForPolicy(
  status: number,
  from: IncomingHttpHeaders,
  receivedAtMs: number,
): CachePolicy.Response {
  const headers: Headers = {};
  for (const name of POLICY_RESPONSE_FIELDS) copyJoined(from, headers, name);
  copyDirectives(from, headers);
  const age = from.age;
  if (age !== undefined) {
    const first = (typeof age === 'string' ? age : (age as string[]).join(',')).split(',')[0]!.trim();
    // As written: a value too long for a double's digits is still read whole by the library.
    if (/^\d+$/.test(first)) headers.age = first;
  }
  const date = from.date;
  const sentAtMs = Date.parse(typeof date === 'string' ? date : (date?.[0] ?? ''));
  const apparent = Math.floor((receivedAtMs - sentAtMs) / 1000);
  if (apparent > Number(headers.age ?? -1)) headers.age = String(apparent);
  return { status, headers };
}

/**
 * Refusals the library would not make: one client's cookie, a Vary that nothing matches (the
 * contract), and a Vary naming a request header the upstream did not get as the client sent it
 * (`x-forwarded-for`, a hop-by-hop header...). Vary says which request headers shaped the answer
 * (RFC 9110 §12.5.5), but the stored request is the client's: every client's `x-forwarded-for` is
 * absent, say, while the upstream answered each one's own address, so the copy would match them all.
 * A varied header sent on several lines is refused too when Node keeps only the first of them
 * (`user-agent`, `referer`...) while the upstream gets them all and may have answered the last:
 * the copy would be matched on a value that did not shape it (RFC 9111 §4.1).
 */
export function refusedByContract(
  request: CacheRequest,
  headers: IncomingHttpHeaders,
  vary: readonly string[],
): boolean {
  if (headers['set-cookie'] !== undefined || vary.includes('*')) return true;
  if (vary.length === 0) return false;
  const named = connectionTokens(request.headers.connection);
  return vary.some(
    (name) =>
      rewrittenUpstream(name) ||
      named?.has(name) === true ||
      (FIRST_LINE_ONLY.has(name) && linesOf(request.rawHeaders, name) > 1),
  );
}

/**
 * Fields of which Node keeps only the first line, on HTTP/1.1 (`IncomingMessage.headers`) or
 * HTTP/2 (its single-value headers); it joins the lines of any other field, as the upstream reads them.
 */
const FIRST_LINE_ONLY = new Set(
  `age authorization content-encoding content-language content-length content-location content-md5
  content-range content-type date dnt etag expires from host if-match if-modified-since if-none-match
  if-range if-unmodified-since last-modified location max-forwards proxy-authorization range referer
  retry-after server tk upgrade-insecure-requests user-agent x-content-type-options`.split(/\s+/),
);

/** How many lines of `raw` carry the field `name` (lower case). */
function linesOf(raw: readonly string[], name: string): number {
  let lines = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!;
    if (field.length === name.length && field.toLowerCase() === name) lines++;
  }
  return lines;
}

/** A kept copy's policy with what is read from it on every lookup, worked out once. */
export interface KeptPolicy {
  policy: CachePolicy;
  /** The header names its Vary lists. */
  vary: readonly string[];
}

/**
 * Response directives under which a copy that is no longer fresh must not be served (§4.2.4,
 * §5.2.2.2 must-revalidate, §5.2.2.4 no-cache, §5.2.2.8 proxy-revalidate, §5.2.2.10 s-maxage),
 * as the library parsed them. A qualified `no-cache="field"` counts as plain no-cache.
 */
export function forbidsStale(cc: Readonly<Record<string, unknown>>): boolean {
  return (
    cc['no-cache'] !== undefined ||
    cc['must-revalidate'] !== undefined ||
    cc['proxy-revalidate'] !== undefined ||
    cc['s-maxage'] !== undefined
  );
}

/**
 * How long a new copy can be of use, at most `ttlMs`: 0 under must-revalidate (the library never
 * reuses such a copy without revalidation, which a gateway that cannot reach its origin cannot
 * do); where stale serving is forbidden, only while fresh, so the copy expires the moment it
 * turns stale and §4.2.4 needs no check at lookup; with `stale-if-error=N` (RFC 5861 §4), the
 * origin's own upper limit on staleness, N seconds past fresh; else the route's whole ttl.
 */
export function usefulForMs(policy: CachePolicy, ttlMs: number): number {
  const cc = policy.toObject().rescc;
  if (cc['must-revalidate'] !== undefined) return 0;
  const staleSeconds = forbidsStale(cc) ? 0 : deltaSeconds(cc['stale-if-error']);
  if (staleSeconds === undefined) return ttlMs;
  return Math.min(ttlMs, Math.max(0, (policy.maxAge() + staleSeconds - policy.age()) * 1000));
}

/** A directive's delta-seconds argument (RFC 9111 §1.2.2), or undefined when it has none. */
function deltaSeconds(value: unknown): number | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Whether a kept copy may answer `request` while the gateway cannot get a fresh answer.
 * The library is asked as if the client allowed any staleness (`max-stale`), which is the
 * permission §4.2.4 gives a disconnected cache, unless the client said otherwise: a request's
 * `max-age` without `max-stale` wants nothing stale (§5.2.1.1), and its `stale-if-error=N` (RFC
 * 5861 §4) allows N seconds of it; a client's own max-stale bound, placed after, wins. The library
 * then still refuses a different target, Host or Vary, the request's no-cache, max-age and
 * min-fresh, and must-revalidate. What it does not check for max-stale (no-cache,
 * proxy-revalidate, s-maxage) cannot reach here: such copies expire once stale (`usefulForMs`).
 */
export function answers(kept: KeptPolicy, request: CacheRequest): boolean {
  if (request.method !== 'GET') return false;
  const shown = requestForPolicy(request, kept.vary);
  const own = shown.headers['cache-control'] as string | undefined;
  const allowed = staleAllowed(own);
  if (allowed !== undefined)
    shown.headers['cache-control'] = own === undefined ? allowed : `${allowed}, ${own}`;
  return kept.policy.evaluateRequest(shown).response !== undefined;
}

/** The max-stale a request's own directives (lower case, as `copyDirectives` left them) leave. */
function staleAllowed(own: string | undefined): string | undefined {
  if (own === undefined) return 'max-stale';
  const onError = /(?:^|,)\s*stale-if-error\s*=\s*"?(\d+)/.exec(own)?.[1];
  if (onError !== undefined) return `max-stale=${onError}`;
  return /(?:^|,)\s*max-age\b/.test(own) && !/(?:^|,)\s*max-stale\b/.test(own) ? undefined : 'max-stale';
}

/** The largest Age sent: a larger one is sent as this (RFC 9111 §1.2.2, delta-seconds). */
const MAX_AGE_SECONDS = 2_147_483_648;

/** Whole seconds for the `age` header: the upstream's Age plus the time kept (§4.2.3, §5.1). */
export function ageSeconds(policy: CachePolicy): number {
  return Math.min(MAX_AGE_SECONDS, Math.max(0, Math.floor(policy.age())));
}

/**
 * Which variant of a target a copy is: the values of the headers its Vary names. Used only to
 * replace an older copy of the same variant; which copy answers a request, the library decides.
 */
export function variantOf(request: CachePolicy.Request, vary: readonly string[]): string {
  let key = '';
  for (const name of vary) {
    const value = request.headers[name];
    key += value === undefined ? `${name}\n` : `${name}=${value as string}\n`;
  }
  return key;
}

// HTTP/2's `:authority` first: it names the target (RFC 9113 §8.3.1), and a Host beside it that
// names another is refused before the cache is asked (http2-request.ts).
export function authorityOf(headers: IncomingHttpHeaders): string | undefined {
  return (headers[':authority'] as string | undefined) ?? headers.host;
}

function copyJoined(from: IncomingHttpHeaders, to: Headers, name: string): void {
  const value = from[name];
  if (value !== undefined) to[name] = typeof value === 'string' ? value : value.join(', ');
}

const DIRECTIVE_FIELDS = ['cache-control', 'pragma'] as const;

// A directive's argument, whatever it is: the library reads it and tests it for truthiness, so an
// empty or malformed one (`no-store=""`, `private=`, `private="`) made the directive vanish. It is
// the directive all the same (RFC 9111 §5.2: directives are known by name), and a field-list
// argument (`private="set-cookie"`) is taken as the whole directive, the cautious reading: so the
// argument is dropped. A quoted one may hold commas; junk after it goes with it.
const EMPTY_ARGUMENT =
  /(^|,)\s*(no-store|no-cache|private|public|must-revalidate|proxy-revalidate|only-if-cached)\s*=\s*(?:"[^"]*"?)?[^,]*/g;

function copyDirectives(from: IncomingHttpHeaders, to: Headers): void {
  for (const name of DIRECTIVE_FIELDS) {
    // Typed as one string by Node; undici gives repeated fields as arrays.
    const value = from[name] as string | string[] | undefined;
    if (value === undefined) continue;
    const lower = (typeof value === 'string' ? value : value.join(', ')).toLowerCase();
    to[name] = lower.includes('=') ? lower.replace(EMPTY_ARGUMENT, '$1$2') : lower;
  }
}
