/**
 * An answer streams to its client no faster than the client reads it: when a write is refused, the
 * exchange pauses undici, which stops reading the upstream, and the client gets `timeoutMs` to read
 * again (undici's body timeout sleeps while paused; with no listener Node then destroys the socket,
 * and an HTTP/2 stream is reset).
 *
 * Except for an answer whose connection ends with it (`connection: close`, or a body delimited by
 * the connection's close): undici 7 asserts, from a socket listener where nothing can catch it, when
 * such a connection closes on a paused parser, and the process dies (nodejs/undici#5360, fixed only
 * in undici 8, which needs Node 22). Such an answer is never paused: it is buffered for its client,
 * at most UNPAUSED_BUFFER_BYTES, past which the client is cut off as too slow; one that stops
 * reading is cut after `timeoutMs` as any other.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import { resetStalledStream } from '../http/http2-request.js';
import type { RequestContext } from '../request/context.js';

/** The most of an unpausable answer held for a client that reads slowly (about 1 s at 64 Mbit/s). */
export const UNPAUSED_BUFFER_BYTES = 8 << 20;

const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;

/** Whether undici may safely be paused on this answer (see above). */
export function mayPause(headers: IncomingHttpHeaders): boolean {
  const connection = headers.connection as string | string[] | undefined;
  if (connection !== undefined && CLOSE_TOKEN.test(String(connection))) return false;
  return headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
}

/**
 * Called when the client refused a write of the answer. False: the answer may not be paused and
 * holds more than UNPAUSED_BUFFER_BYTES for this client, which must be cut off.
 */
export function holdBack(
  ctx: RequestContext,
  controller: Dispatcher.DispatchController,
  pausable: boolean,
  timeout: number,
): boolean {
  const res = ctx.res!;
  if (pausable) controller.pause();
  else if (res.writableLength > UNPAUSED_BUFFER_BYTES) return false;
  // Either way a client that stops reading is cut after `timeout`, its buffered answer with it.
  if (ctx.http2) resetStalledStream(res as Http2ServerResponse, timeout);
  else (res as ServerResponse).setTimeout(timeout);
  return true;
}
