import type { IncomingHttpHeaders } from 'node:http';
import { type BodyCapture, StaleCache, type StaleEntry } from '../cache/stale-cache.js';
import { headerListToObject } from '../http/hop-by-hop.js';
import type { RequestContext } from '../request/context.js';

// Where the request path meets the stale cache: whether an answer may be kept, keeping it, and
// answering from a kept copy. Failover answers are kept for, and served to, the home region.

/** The key a home region's stale copy of a path is kept under. */
function staleKey(ctx: RequestContext): string {
  return `${ctx.home.name} ${ctx.path}`;
}

function keepsCopies(ctx: RequestContext): boolean {
  return ctx.route.staleTtlMs !== undefined && ctx.req.method === 'GET';
}

/** A capture of the answer's body when the route keeps copies and the answer may be kept. */
export function captureFor(
  ctx: RequestContext,
  status: number,
  headers: IncomingHttpHeaders,
): BodyCapture | undefined {
  if (!keepsCopies(ctx) || !StaleCache.cacheable(status, headers)) return undefined;
  return ctx.runtime.staleCache.capture();
}

/** Keeps the captured answer; `list` is the header list as sent to the client, before our own headers. */
export function keepCopy(ctx: RequestContext, capture: BodyCapture, list: string[]): void {
  const body = capture.finish();
  if (body === undefined) return;
  const cache = ctx.runtime.staleCache;
  const entry = { status: ctx.status, headers: headerListToObject(list), body, storedAt: ctx.clock() };
  cache.set(staleKey(ctx), entry, ctx.route.staleTtlMs!);
}

export function keptCopy(ctx: RequestContext): StaleEntry | undefined {
  if (!keepsCopies(ctx)) return undefined;
  return ctx.runtime.staleCache.get(staleKey(ctx));
}

/** Answers from the kept copy, if there is one: its status and body, marked stale, with its age. */
export function serveKeptCopy(ctx: RequestContext): boolean {
  const res = ctx.res;
  const entry = res === undefined || res.headersSent ? undefined : keptCopy(ctx);
  if (entry === undefined) return false;
  const cache = ctx.runtime.staleCache;
  res!.writeHead(entry.status, {
    ...entry.headers,
    'content-length': entry.body.length,
    'x-floodgate-region': ctx.region.name,
    'x-floodgate-cache': 'stale',
    'x-request-id': ctx.requestId,
    age: String(cache.ageSeconds(entry)),
  });
  res!.end(entry.body);
  ctx.status = entry.status;
  ctx.bytes = entry.body.length;
  return true;
}
