import type { IncomingHttpHeaders } from 'node:http';
import { authorityOf } from '../cache/cache-rules.js';
import { type CacheRequest, type Capture, StaleCache } from '../cache/stale-cache.js';
import { writeHeadList } from '../http/http2-request.js';
import { isSafe } from '../http/methods.js';
import type { RequestContext } from '../request/context.js';

// Where the request path meets the stale cache: whether an answer may be kept, and answering from
// a kept copy. The cache applies RFC 9111's shared-cache rules (src/cache/cache-rules.ts); this
// file only says what the request is. Failover answers are kept for, and served to, the home region.

function cacheRequest(ctx: RequestContext): CacheRequest {
  return {
    method: ctx.req.method ?? '',
    url: ctx.path,
    headers: ctx.req.headers,
    rawHeaders: ctx.req.rawHeaders,
    scheme: ctx.scheme,
    region: ctx.home.name,
  };
}

/** A capture of the answer's body when the route keeps copies and the answer may be kept. */
export function captureFor(
  ctx: RequestContext,
  status: number,
  headers: IncomingHttpHeaders,
): Capture | undefined {
  const ttlMs = ctx.route.staleTtlMs;
  // The cheap check first: most answers never reach the caching rules.
  if (!StaleCache.mayKeep(ctx.req.method ?? '', status, ttlMs)) return undefined;
  return ctx.runtime.staleCache.captureFor(cacheRequest(ctx), status, headers, ttlMs);
}

/**
 * After an upstream's answer to an unsafe request (POST, PUT, DELETE...) that is not an error,
 * its target's kept copies are forgotten in every region (RFC 9111 §4.4): a deleted like must not
 * come back from a copy when the region next fails. Whatever the route: another route may keep
 * the GETs of the same target. So are those of the URIs its `location` and `content-location`
 * name (which §4.4 allows), when they are of the same origin (which it requires): a POST that
 * answers with where the changed resource lives changed that resource.
 */
export function forgetAfterUnsafe(ctx: RequestContext, status: number, headers: IncomingHttpHeaders): void {
  if (status >= 400 || isSafe(ctx.req.method)) return;
  const request = cacheRequest(ctx);
  const { staleCache, regions } = ctx.runtime;
  staleCache.invalidate(request, regions.keys());
  for (const named of [headers.location, headers['content-location']]) {
    const url = typeof named === 'string' ? sameOriginPath(request, named) : undefined;
    if (url !== undefined && url !== request.url) staleCache.invalidate({ ...request, url }, regions.keys());
  }
}

/**
 * The target `reference` names, as a cache key holds it (the path and query as sent, not
 * normalised); undefined for another origin. Only a relative path is resolved against the
 * request's URI, and comes back as WHATWG URL writes it.
 */
function sameOriginPath(request: CacheRequest, reference: string): string | undefined {
  const fragment = reference.indexOf('#');
  const named = fragment < 0 ? reference : reference.slice(0, fragment);
  if (named.startsWith('/') && !named.startsWith('//')) return named;
  const host = authorityOf(request.headers);
  if (host === undefined) return undefined;
  try {
    const base = new URL(`${request.scheme}://${host}${request.url}`);
    const resolved = new URL(named, base);
    if (resolved.origin !== base.origin) return undefined;
    const absolute = ABSOLUTE.exec(named);
    if (absolute === null) return resolved.pathname + resolved.search;
    const target = absolute[1]!;
    return target.startsWith('/') ? target : `/${target}`;
  } catch {
    return undefined;
  }
}

// A reference with a scheme and authority; what follows the authority is its target as written.
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*(.*)$/is;

/** Whether a kept copy may answer this request now, without serving it. */
export function hasKeptCopy(ctx: RequestContext): boolean {
  return ctx.route.staleTtlMs !== undefined && ctx.runtime.staleCache.has(cacheRequest(ctx));
}

/** Answers from a kept copy, if one may be served: its status and body, marked stale, with its age. */
export function serveKeptCopy(ctx: RequestContext): boolean {
  const res = ctx.res;
  if (res === undefined || res.headersSent || ctx.route?.staleTtlMs === undefined) return false;
  const answer = ctx.runtime.staleCache.lookup(cacheRequest(ctx));
  if (answer === undefined) return false;
  answer.headers.push('x-floodgate-region', ctx.region.name, 'x-request-id', ctx.requestId);
  writeHeadList(res, answer.status, answer.headers);
  res.end(answer.body);
  ctx.status = answer.status;
  ctx.bytes = answer.body.length;
  return true;
}
