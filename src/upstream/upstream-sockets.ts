/**
 * The connector of every upstream pool, there to see the one fault undici hides. When a connection
 * is reset while an answer delimited by its close (no content-length, not chunked) is being read,
 * undici ends the answer as though it were whole: a workaround of its own for macOS, which reports
 * ECONNRESET after a complete body (client-h1.js, onHttpSocketError). RFC 9112 §8 says such an
 * answer is incomplete when the connection reports an error, and the contract that a cut answer
 * is never ended as complete, nor kept as a stale copy. undici ends the answer synchronously from
 * its `error` listener, so this connector marks the time the socket emits a reset, and no more: an
 * answer that ends while `endedByReset()` is true was cut by that reset.
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
      if (result[1]) watchResets(result[1]);
      callback(...result);
    });
}

/** Whether the answer ending now ends because its connection was reset under it. */
export function endedByReset(): boolean {
  return resetting;
}

/**
 * Wraps the socket's own `emit`: a listener could only raise a flag for longer than the emit
 * (until a later tick), where another connection's answer could end and be taken for cut. The
 * mark covers the reset's `error` and, after one, the socket's `close`, where undici ends the
 * answer too.
 *
 * It also keeps undici 7 from asserting, from those listeners and `end`'s, where nothing can catch
 * it and the process ends, when the connection ends under an answer paused for a slow client
 * (nodejs/undici#5360, fixed in undici 8, which needs Node 22). client-pace.ts keeps the usual
 * cases from pausing; this is for the rest (an HTTP/1.0 answer with a length, cut short). Its
 * parser's own `paused` is cleared first: llhttp, still paused, then reports the pause instead, so
 * the close fails the answer as cut (undici 7.30's internals; upstream-faults.test.ts holds them).
 */
function watchResets(socket: Socket): void {
  const emit = socket.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  let reset = false;
  socket.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    const resetNow =
      event === 'error' && (args[0] as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET';
    if (!resetNow && event !== 'end' && event !== 'close') return emit.call(this, event, ...args);
    unpauseParser(this);
    reset ||= resetNow;
    const outer = resetting;
    resetting = reset;
    try {
      return emit.call(this, event, ...args);
    } finally {
      resetting = outer;
    }
  } as Socket['emit'];
}

type ParserHolder = Record<symbol, { paused?: boolean } | null | undefined>;

function unpauseParser(socket: Socket): void {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'parser');
  const parser = key === undefined ? undefined : (socket as unknown as ParserHolder)[key];
  if (parser?.paused === true) parser.paused = false;
}
