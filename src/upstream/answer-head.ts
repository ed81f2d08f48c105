import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { clientResponseHeaders, hasUndecodedCoding } from '../http/hop-by-hop.js';
import type { RequestContext } from '../request/context.js';

/**
 * An upstream answer's headers as the client is sent them: the upstream's end-to-end headers, then
 * the gateway's own (the serving region, the request's id, and the home region after a failover).
 * A 204's `content-length` is left out: no sender may send one (RFC 9110 §8.6), and a client that
 * believed it would wait for a body that never comes.
 */
export function clientHeadList(
  ctx: RequestContext,
  region: string,
  statusCode: number,
  headers: IncomingHttpHeaders,
): string[] {
  const list = clientResponseHeaders(headers);
  if (statusCode === 204) dropField(list, 'content-length');
  list.push('x-floodgate-region', region, 'x-request-id', ctx.requestId);
  if (ctx.region !== ctx.home) list.push('x-floodgate-failover-from', ctx.home.name);
  return list;
}

function dropField(list: string[], name: string): void {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] !== name) continue;
    list.splice(i, 2);
    i -= 2;
  }
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

/**
 * Passes on a 1xx the upstream sent before its answer: a proxy must forward those it did not ask
 * for (RFC 9110 §15.2), never to an HTTP/1.0 client. Node can write a 1xx with its fields only as a
 * 103 (writeEarlyHints, on both protocols), so the rest are dropped, which costs a client a hint,
 * never the answer: a 100 does not get here (undici fails the exchange on any, asking for none;
 * the gateway answers a client's Expect itself) and 102 is obsolete (RFC 9110 leaves it out).
 */
export function forwardInformational(
  ctx: RequestContext,
  statusCode: number,
  headers: IncomingHttpHeaders,
): void {
  if (statusCode !== 103 || headers.link === undefined || ctx.req.httpVersion === '1.0') return;
  try {
    // The same call on both protocols; Node's HTTP/2 types leave it out.
    (ctx.res as ServerResponse).writeEarlyHints(earlyHints(clientResponseHeaders(headers)));
  } catch {
    // Node's link grammar is narrower than RFC 8288's (no quoted spaces or commas) and HTTP/2 takes
    // fewer fields than HTTP/1.1: a hint Node refuses is dropped; the answer that follows is not.
  }
}

/**
 * A 103's end-to-end fields as writeEarlyHints takes them: each link-value on its own (Node refuses
 * a list in one string), other repeated fields joined (RFC 9110 §5.3). No `content-length`, which a
 * 1xx may not carry (§8.6), and no `set-cookie`, which cannot be joined.
 */
function earlyHints(list: string[]): Record<string, string | string[]> {
  const links: string[] = [];
  const hints: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    if (name === 'link') splitLinks(value, links);
    else if (name !== 'content-length' && name !== 'set-cookie')
      hints[name] = hints[name] === undefined ? value : `${hints[name]}, ${value}`;
  }
  hints.link = links;
  return hints;
}

/** Appends the link-values of one Link field to `out`: commas inside `<...>` or quotes do not split. */
function splitLinks(field: string, out: string[]): void {
  let start = 0;
  let inTarget = false;
  let inQuotes = false;
  for (let i = 0; i <= field.length; i++) {
    const c = field[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') inQuotes = true;
    else if (c === '<') inTarget = true;
    else if (c === '>') inTarget = false;
    else if (c === undefined || (c === ',' && !inTarget)) {
      const link = field.slice(start, i).trim();
      if (link !== '') out.push(link);
      start = i + 1;
    }
  }
}
