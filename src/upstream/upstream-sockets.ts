/**
 * The connector of every upstream pool, there to see the one fault undici hides. When a connection
 * is reset while an answer delimited by its close (no content-length, not chunked) is being read,
 * undici ends the answer as though it were whole: a workaround of its own for macOS, which reports
 * ECONNRESET after a complete body (client-h1.js, onHttpSocketError). RFC 9112 §8 says such an
 * answer is incomplete when the connection reports an error, and the contract that a cut answer
 * is never ended as complete, nor kept as a stale copy. This connector's `error` listener comes
 * before undici's, and undici ends the answer synchronously from its own, so an answer that ends
 * while `endedByReset()` is true was cut by a reset.
 */
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';
import type { UpstreamTls } from './pools.js';

let resetting = false;

/** undici's own connector (its defaults, with the region's TLS), watched for resets. */
export function watchedConnector(tls: UpstreamTls | undefined): buildConnector.connector {
  const connect = buildConnector({ ...tls });
  return (options, callback) =>
    connect(options, (...result) => {
      result[1]?.on('error', noteReset);
      callback(...result);
    });
}

/** Whether the answer ending now ends because its connection was reset under it. */
export function endedByReset(): boolean {
  return resetting;
}

function noteReset(this: Socket, err: NodeJS.ErrnoException): void {
  if (err.code !== 'ECONNRESET') return;
  resetting = true;
  // Only for the listeners of this one error: undici's, which ends the answer, runs next.
  queueMicrotask(clearReset);
}

function clearReset(): void {
  resetting = false;
}
