import type { IncomingHttpHeaders } from 'node:http';
import { clientResponseHeaders, hasUndecodedCoding } from '../http/hop-by-hop.js';
import type { RequestContext } from '../request/context.js';

/**
 * An upstream answer's headers as the client is sent them: the upstream's end-to-end headers, then
 * the gateway's own (the serving region, the request's id, and the home region after a failover).
 */
export function clientHeadList(ctx: RequestContext, region: string, headers: IncomingHttpHeaders): string[] {
  const list = clientResponseHeaders(headers);
  list.push('x-floodgate-region', region, 'x-request-id', ctx.requestId);
  if (ctx.region !== ctx.home) list.push('x-floodgate-failover-from', ctx.home.name);
  return list;
}

/**
 * Statuses whose answer ends with its head whatever `content-length` says (RFC 9112 §6.3): a 304
 * may declare the length of the representation it stands for (RFC 9110 §8.6).
 */
export function endsWithHead(statusCode: number): boolean {
  return statusCode === 204 || statusCode === 304;
}

/**
 * Whether the answer's content still carries a transfer coding undici leaves on it, which the
 * client must not be given as the content itself. An answer without content has nothing to misread.
 */
export function undecodedContent(
  method: string | undefined,
  statusCode: number,
  headers: IncomingHttpHeaders,
): boolean {
  return hasUndecodedCoding(headers['transfer-encoding']) && !endsWithHead(statusCode) && method !== 'HEAD';
}
