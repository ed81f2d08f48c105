import type { Http2ServerRequest } from 'node:http2';
import type { RequestContext } from '../request/context.js';
import { http1HeaderList, writeHeadList } from './http2-request.js';

// RFC 9110 §7.6.2: an intermediary that receives TRACE or OPTIONS with `Max-Forwards` must pass it
// on one lower, and at 0 must not forward it but answer as the final recipient. These are the only
// answers the gateway gives that are neither a refusal (errors.ts) nor an upstream's.

const DIGITS = /^\d+$/;
// Far more hops than any path has, and exact as a double: a longer count is passed on as this.
const MOST_HOPS = 1e15;

// What `OPTIONS *` is told the server allows: the standard methods the gateway passes on (RFC 9110
// §9.3; CONNECT is refused 501). Whether a given resource takes one is for its upstream to say.
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE';

// A reflected TRACE must leave out fields likely to carry secrets (RFC 9110 §9.3.8): credentials
// and cookies would otherwise be readable by script that cannot read them directly.
const NOT_REFLECTED = new Set(['authorization', 'proxy-authorization', 'cookie']);

/**
 * The hop count a TRACE or OPTIONS request allows, or undefined: any other method (a recipient may
 * ignore the field there), no field, or a value that is not 1*DIGIT, which is passed on unchanged.
 * Such requests are answered before admission, like malformed ones: nothing goes upstream, and the
 * answer is no larger than the request's own headers, which the header limit bounds.
 */
export function maxForwardsOf(method: string | undefined, value: string | undefined): number | undefined {
  if (value === undefined || (method !== 'OPTIONS' && method !== 'TRACE')) return undefined;
  if (!DIGITS.test(value)) return undefined;
  return value.length > 15 ? MOST_HOPS : Number(value);
}

/**
 * Answers a request whose hop count ran out here, or `OPTIONS *`: OPTIONS with an empty 200 (with
 * `allow` for `*`, which asks about the server), TRACE with the request it received as
 * `message/http`. Returns the body's size in bytes.
 */
export function answerAsFinalRecipient(ctx: RequestContext): number {
  const { req, res } = ctx;
  const body = req.method === 'TRACE' ? reflected(ctx) : '';
  const size = Buffer.byteLength(body);
  const headers = ['content-length', String(size)];
  if (body !== '') headers.push('content-type', 'message/http');
  if (ctx.path === '*') headers.push('allow', ALLOWED_METHODS);
  headers.push('x-floodgate-region', ctx.home.name, 'x-request-id', ctx.requestId);
  writeHeadList(res!, 200, headers);
  res!.end(body);
  return size;
}

function reflected(ctx: RequestContext): string {
  const req = ctx.req;
  const raw = ctx.http2 ? http1HeaderList(req as Http2ServerRequest) : req.rawHeaders;
  // HTTP/2 names its version "2" (RFC 9113 §3); Node reports "2.0".
  const version = ctx.http2 ? '2' : req.httpVersion;
  let text = `TRACE ${req.url} HTTP/${version}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    if (!NOT_REFLECTED.has(raw[i]!.toLowerCase())) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return `${text}\r\n`;
}
