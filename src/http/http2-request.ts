import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants, type Http2ServerRequest, Http2ServerResponse, type Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Refusal } from './errors.js';
import { isValidHost } from './request-checks.js';

// What an HTTP/2 stream needs to go through the same request path as an HTTP/1.1 request. Node's
// compatibility API gives both the same shape (headers, method, url, write, end), so only the few
// differences live here: pseudo-headers, the body's framing, and answers without hop-by-hop
// headers. Most functions are called only for HTTP/2, so HTTP/1.1 pays nothing for them.

export type PublicRequest = IncomingMessage | Http2ServerRequest;
export type PublicResponse = ServerResponse | Http2ServerResponse;

const AUTHORITY = ':authority';

/**
 * Writes an answer's status and flat header list. HTTP/2 has no reason phrase (Node warns about
 * one), and its connection stays open whatever one stream's answer says.
 */
export function writeHeadList(res: PublicResponse, status: number, list: string[], reason?: string): void {
  // Node's HTTP/2 writeHead takes a flat list as HTTP/1.1's does; its type definitions do not say so.
  if (res instanceof Http2ServerResponse) res.writeHead(status, list as unknown as OutgoingHttpHeaders);
  else res.writeHead(status, reason, list);
}

/**
 * After an answer sent before the request's body was all read (a refusal, or an upstream that
 * answered without reading it): node:http reads the rest and throws it away, but an HTTP/2 stream
 * whose rest nobody reads stays open, its client waiting on flow control, and counts against the
 * connection's concurrent streams until the connection goes. So the rest is read and thrown away
 * here too, up to a bound (1 MiB, or 2 s): a shedding gateway must not read a whole upload for
 * nothing. Beyond it the stream is cancelled; the answer went out before. (RFC 9113 §8.1's
 * RST_STREAM with NO_ERROR would be kinder, but Node's close with that code waits for the stream
 * to end first, and sent any sooner it overtakes the answer's last frame.)
 */
export function dropUnreadBody(res: PublicResponse): void {
  if (!(res instanceof Http2ServerResponse) || res.stream.readableEnded || dropping.has(res)) return;
  dropping.add(res);
  const stream = res.stream;
  let left = DROPPED_BODY_LIMIT_BYTES;
  // Out of the body undici had (upstreamBody); unpiping leaves the request paused, hence the resume.
  res.req.unpipe();
  res.req.on('data', (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) cancelStream(stream);
  });
  res.req.resume();
  // Nor for ever on a client that stopped sending (a 408): HTTP/2 has no request timeout of
  // node:http's, and a graceful close of the connection waits for its open streams.
  const deadline = setTimeout(cancelStream, DROPPED_BODY_DEADLINE_MS, stream).unref();
  stream.once('close', () => clearTimeout(deadline));
}

function cancelStream(stream: Http2Stream): void {
  if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
}

const DROPPED_BODY_LIMIT_BYTES = 1 << 20;
const DROPPED_BODY_DEADLINE_MS = 2000;
// Answers whose rest is being thrown away: a refusal after an aborted upstream request comes here
// both from the refusal and from undici letting go of the body.
const dropping = new WeakSet<Http2ServerResponse>();

/**
 * The body handed to undici: the request itself on HTTP/1.1; on HTTP/2 a stream of its own, fed
 * from the request. undici destroys the body of a request it aborts (one counted past
 * maxBodyBytes, an upstream gone mid-upload) or whose answer came before it was all sent, and a
 * destroyed compatibility request stops its stream's flow for good. So the request itself stays
 * readable, and once undici has let go of its body and the answer is out, whatever undici did not
 * send is thrown away.
 */
export function upstreamBody(req: PublicRequest, res: PublicResponse): Readable {
  if (!(res instanceof Http2ServerResponse)) return req;
  const body = new PassThrough();
  // The compatibility layer ends the body of a stream that closed, however it closed: a client
  // gone mid-upload must not reach the upstream as a whole, shorter request.
  req.once('aborted', () => body.destroy(new Error('client closed the stream')));
  // The response's own 'finish' waits for the stream to close, which is what this is for.
  body.once('close', () => {
    if (res.writableEnded) dropUnreadBody(res);
    else res.stream.once('finish', () => dropUnreadBody(res));
  });
  return req.pipe(body);
}

/**
 * Ends an answer whose body was cut short so that the client sees the cut: HTTP/2 resets the
 * stream, HTTP/1.1 closes a connection that never gets the chunked body's last chunk or all of
 * its length. A body delimited by the connection's close (to an HTTP/1.0 client, without a length)
 * would look whole after a FIN (RFC 9112 §8): its plain connection is reset instead. Only then,
 * since a reset also drops what the kernel still holds of earlier answers on the connection. A TLS
 * connection closed without close_notify says as much.
 */
export function cutAnswer(res: PublicResponse, err: Error): void {
  const socket = res.socket;
  // writeHeadList's head is not seen by hasHeader; its text is.
  const head = (res as { _header?: string | null })._header ?? '';
  const closeDelimited =
    !(res instanceof Http2ServerResponse) &&
    res.req.httpVersion === '1.0' &&
    !/\r\ncontent-length:/i.test(head);
  if (closeDelimited && socket !== null && !(socket instanceof TLSSocket))
    (socket as Socket).resetAndDestroy();
  else res.destroy(err);
}

/** After this answer the connection carries no other request (HTTP/2: only this stream ends). */
export function closeAfterAnswer(res: PublicResponse): void {
  if (!(res instanceof Http2ServerResponse)) res.shouldKeepAlive = false;
}

/**
 * The request's header list as HTTP/1.1 would carry it upstream (RFC 9113 §8.3.1): pseudo-headers
 * left out, Host from `:authority` (an intermediary making a Host MUST use it; a Host header
 * naming another was refused, and one naming the same is replaced), and `cookie` fields, which
 * HTTP/2 may send one per cookie, joined with "; " into one (§8.2.3).
 */
export function http1HeaderList(req: Http2ServerRequest): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const authority = req.headers[AUTHORITY];
  const cookies: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 0x3a /* ':' */) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      cookies.push(value);
      continue;
    }
    if (lower === 'host' && typeof authority === 'string') continue;
    out.push(name, value);
  }
  if (typeof authority === 'string') out.unshift('host', authority);
  if (cookies.length > 0) out.push('cookie', cookies.join('; '));
  return out;
}

/**
 * What an HTTP/2 stream is checked for in place of `requestProblem`: its framing and version are
 * the http2 module's, so only the size of its headers, the host it names (it becomes the upstream
 * request's Host and x-forwarded-host, and keys the stale cache) and a declared body's size.
 */
export function http2RequestProblem(
  req: Http2ServerRequest,
  limits: { readonly maxBodyBytes: number; readonly maxHeaderBytes: number },
): Refusal | undefined {
  if (http1HeaderBytes(req.rawHeaders) > limits.maxHeaderBytes) return 'headers-too-large';
  const host = http2Host(req);
  if (host === undefined || !isValidHost(host)) return 'bad-host';
  // A Host beside `:authority` naming another is malformed (RFC 9113 §8.3.1, SHOULD): the cache,
  // x-forwarded-host and the upstream's Host must all name one host, `:authority`'s.
  const also = req.headers.host;
  if (also !== undefined && host !== also && host.toLowerCase() !== also.toLowerCase()) return 'bad-host';
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) return 'body-too-large';
  return undefined;
}

/**
 * About what the headers would take as HTTP/1.1, which `listen.maxHeaderBytes` bounds there: a
 * field's name, value, `: ` and CRLF; a pseudo-header's value only, as the request line or Host.
 * SETTINGS_MAX_HEADER_LIST_SIZE is only advice to the client, and nghttp2 holds a client to it
 * only once the client has acknowledged it, so this is the limit every stream meets.
 */
function http1HeaderBytes(raw: readonly string[]): number {
  let bytes = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    bytes += (name.charCodeAt(0) === 0x3a /* ':' */ ? 0 : name.length) + raw[i + 1]!.length + 4;
  }
  return bytes;
}

/** The host the client asked for: `:authority`, or a Host header sent alongside it. */
export function http2Host(req: Http2ServerRequest): string | undefined {
  const headers = req.headers;
  const authority = headers[AUTHORITY];
  return typeof authority === 'string' ? authority : headers.host;
}

/**
 * Whether an HTTP/2 request has a body: its framing is DATA frames, with or without a
 * content-length, and a request without one ends its stream with the headers.
 */
export function http2HasBody(req: Http2ServerRequest): boolean {
  return !req.stream.endAfterHeaders && req.headers['content-length'] !== '0';
}

/**
 * A stream whose client stopped reading is reset after `ms`: unlike an HTTP/1.1 socket, Node's
 * HTTP/2 compatibility layer only reports the timeout and would keep the stream (and the request's
 * slot) open forever. The listener is added once per stream.
 */
export function resetStalledStream(res: Http2ServerResponse, ms: number): void {
  const stream = res.stream;
  if (!stream.listeners('timeout').includes(resetStream)) stream.on('timeout', resetStream);
  stream.setTimeout(ms);
}

function resetStream(this: Http2ServerResponse['stream']): void {
  // Not NO_ERROR, which says the answer was sent whole (RFC 9113 §8.1): a cut one must look cut.
  this.close(constants.NGHTTP2_INTERNAL_ERROR);
}
