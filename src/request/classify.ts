import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { lowerOnly } from '../admission/priority.js';
import { clientAddress, forwardedFor } from '../http/client-ip.js';
import type { Refusal } from '../http/errors.js';
import { expectationProblem } from '../http/expect-continue.js';
import { type ForwardedValues, viaFor } from '../http/hop-by-hop.js';
import { http2HasBody, http2Host, http2RequestProblem } from '../http/http2-request.js';
import { maxForwardsOf } from '../http/max-forwards.js';
import { isValidHost, requestProblem } from '../http/request-checks.js';
import { isServerWideTarget, targetAuthority, upstreamPath } from '../routing/route-table.js';
import type { RequestContext } from './context.js';
import { requestIdFor } from './request-id.js';

/**
 * The classification step, shared by requests and upgrades: who is asking (request id, client
 * address), what is asked (the path sent upstream, the route and its priority), and whether it is
 * malformed or too large to admit at all. Refusals here cost no tokens and never reach a breaker.
 */
export function classify(ctx: RequestContext): Refusal | undefined {
  const { req, runtime } = ctx;
  const headers = req.headers;
  ctx.requestId = requestIdFor(headers['x-request-id']);
  ctx.client = clientAddress(req.socket.remoteAddress ?? '', headers['x-forwarded-for'], runtime.trusted);
  // Before the target, whose authority-form would otherwise be refused as malformed.
  if (req.method === 'CONNECT') return 'method-not-implemented';
  const hops = headers['max-forwards'];
  ctx.maxForwards = maxForwardsOf(req.method, typeof hops === 'string' ? hops : undefined);
  // `OPTIONS *` (RFC 9112 §3.2.4) asks about the server itself, which to its client the gateway
  // is; undici sends only paths starting with `/`, so it could not be passed on as asked anyway.
  const target = req.url ?? '';
  const path = req.method === 'OPTIONS' && isServerWideTarget(target) ? '*' : upstreamPath(target);
  if (path === undefined) return 'bad-request';
  ctx.path = path;
  ctx.route = runtime.routes.match(path, req.method!);
  ctx.priority = lowerOnly(ctx.route.priority, headers['x-priority']);
  const problem = ctx.http2
    ? http2RequestProblem(req as Http2ServerRequest, runtime)
    : requestProblem(req as IncomingMessage, runtime.maxBodyBytes);
  return problem ?? targetHostProblem(ctx) ?? expectationProblem(headers.expect);
}

/**
 * An absolute-form target names the host itself: the received Host is ignored and the one sent on
 * is made from the target (RFC 9112 §3.2.2, a MUST for a proxy). Written into the request's
 * headers, so the upstream's Host, x-forwarded-host and the stale cache's key all follow it.
 */
function targetHostProblem(ctx: RequestContext): Refusal | undefined {
  const authority = targetAuthority(ctx.req.url ?? '');
  if (authority === undefined) return undefined;
  if (!isValidHost(authority)) return 'bad-host';
  ctx.req.headers.host = authority;
  return undefined;
}

/** Whether the request carries a body, by its framing headers. */
export function hasBody(ctx: RequestContext): boolean {
  if (ctx.http2) return http2HasBody(ctx.req as Http2ServerRequest);
  const headers = ctx.req.headers;
  const length = headers['content-length'];
  if (length !== undefined) return length !== '0';
  return headers['transfer-encoding'] !== undefined;
}

/** The `x-forwarded-*` values and request id the gateway sets on what it sends upstream. */
export function forwardedValues(ctx: RequestContext): ForwardedValues {
  const req = ctx.req;
  return {
    forwardedFor: forwardedFor(
      req.socket.remoteAddress ?? '',
      req.headers['x-forwarded-for'],
      ctx.runtime.trusted,
    ),
    proto: ctx.scheme,
    host: ctx.http2 ? http2Host(req as Http2ServerRequest) : req.headers.host,
    requestId: ctx.requestId,
    via: viaFor(req.httpVersion),
    maxForwards: ctx.maxForwards === undefined ? undefined : ctx.maxForwards - 1,
  };
}
