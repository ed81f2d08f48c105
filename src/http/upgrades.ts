import type { IncomingMessage } from 'node:http';
import { type Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PublicListener, RequestHandler, ServedSocket } from './public-server.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface UpgradeRoutes {
  listener: PublicListener;
  /**
   * Lists the socket for shutdown to cut (the tunnels' list), false when shutdown already has: an
   * upgraded socket leaves the server's own connection list, whatever becomes of it.
   */
  track(socket: Duplex): boolean;
  /** Takes a WebSocket handshake through admission to its tunnel. */
  tunnel: UpgradeHandler;
}

/**
 * The public server's `upgrade` listener. Only WebSocket handshakes go to `tunnel`. Any other
 * request asking to switch (`Upgrade: h2c` from `curl --http2`, `Upgrade: TLS/1.0`) is served as
 * the ordinary request it also is, which RFC 9110 §7.8 allows; an HTTP/1.0 request's Upgrade must
 * be ignored (ibid.), so an HTTP/1.0 handshake is served that way too.
 *
 * Node 20 hands every request with `Connection: upgrade` and an `Upgrade` header to this event once
 * it has a listener, its parser already detached from the socket; `shouldUpgradeCallback`, which
 * lets a server choose, only came in Node 24.9. So such a request is handed back: its head, without
 * `Upgrade` (without it the parser sees no upgrade), goes back in front of the bytes that followed,
 * and the socket is injected into the same server as a new connection (the `connection` event is
 * documented for this; over TLS it is `secureConnection`, where the HTTP/1.1 side starts). Parsed
 * again, it takes the request path like any other request, with its body, keep-alive, deadlines,
 * admission, shedding, access line and metrics. Its head is put back at once, while the socket's
 * stream cannot have ended (a stream refuses bytes put back after its end), even when the
 * connection is only handed back later (afterEarlierAnswers).
 */
export function upgradeListener(routes: UpgradeRoutes): UpgradeHandler {
  const { listener, tunnel } = routes;
  const newConnection = listener.secure ? 'secureConnection' : 'connection';
  return (req, socket, head) => {
    // From the moment it arrives: it may wait behind an earlier answer that never ends (a stream).
    if (!routes.track(socket)) return;
    // Node's own error handling left the socket with its parser: a reset now must not crash.
    socket.on('error', destroySocket);
    // A 101 written now would go out ahead of the earlier answer, which would then be written into the tunnel.
    const served = socket as ServedSocket;
    if (isWebSocketHandshake(req)) {
      // Once the gateway's side has ended (a refusal, an upstream's answer other than 101, the end
      // of a tunnel) the socket goes: left half-open, with its reads stopped by a full buffer or a
      // client that never closes, it would never learn that the client went, and be held for ever.
      socket.once('finish', destroySocket);
      return afterEarlierAnswers(served, () => tunnel(req, socket, head));
    }
    socket.unshift(Buffer.concat([headWithoutUpgrade(req), head]));
    afterEarlierAnswers(served, () => {
      socket.off('error', destroySocket);
      // The earlier answer left its keep-alive idle timer on the socket, which the new connection's
      // state never clears: it would cut the next answer once keepAliveTimeoutMs had passed.
      served.setTimeout(0);
      listener.server.emit(newConnection, socket);
    });
  };
}

export interface ConnectRoutes {
  /** As for upgrades: lists the socket for shutdown to cut, false when shutdown already has. */
  track(socket: Duplex): boolean;
  /** Refuses an HTTP/1.1 CONNECT on its socket. */
  refuse(req: IncomingMessage, socket: Duplex): void;
  /** The request listener, which refuses an HTTP/2 CONNECT stream like any other bad request. */
  request: RequestHandler;
}

/**
 * The public server's `connect` listener. The gateway is no tunnel, so CONNECT is refused with 501
 * (RFC 9110 §9.3.6), routed, counted and logged like the gateway's other refusals. Without a
 * listener Node closes an HTTP/1.1 CONNECT's socket without a word and answers an HTTP/2 one with
 * a bare 405. The TLS server emits both on this event: HTTP/1.1 with the socket, detached from its
 * parser (so the connection ends after the answer), HTTP/2 with a stream's request and response.
 */
export function connectListener(routes: ConnectRoutes) {
  return (req: IncomingMessage | Http2ServerRequest, second: Duplex | Http2ServerResponse): void => {
    if (second instanceof Http2ServerResponse) return routes.request(req, second);
    const socket = second as ServedSocket;
    if (!routes.track(socket)) return;
    socket.on('error', destroySocket);
    // Pipelined behind an answer still going out, the refusal would be written into its body.
    afterEarlierAnswers(socket, () => {
      routes.refuse(req as IncomingMessage, socket);
      // Node's HTTP sockets allow half-open: a client that never ends its side would keep this one.
      (socket as Socket).destroySoon();
    });
  };
}

/**
 * RFC 6455 §4.1: a GET of HTTP/1.1 or later whose `Upgrade` is `websocket`. http-proxy tunnels
 * nothing else (it drops the socket), so a list of protocols is served as an ordinary request too,
 * and so is one with a body: http-proxy would hold the body back until the switch, while an
 * upstream may read the whole request before it answers (RFC 9110 §7.8).
 */
function isWebSocketHandshake(req: IncomingMessage): boolean {
  const { headers } = req;
  return (
    req.method === 'GET' &&
    req.httpVersion !== '1.0' &&
    headers.upgrade?.toLowerCase() === 'websocket' &&
    (headers['content-length'] === undefined || headers['content-length'] === '0') &&
    headers['transfer-encoding'] === undefined
  );
}

/** The request line and headers as received but for `Upgrade`, in the bytes they came as. */
function headWithoutUpgrade(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'upgrade') head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  // Node reads header bytes as latin1, so this gives back the bytes the client sent.
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/**
 * Runs `then` once the answers to requests pipelined before this one have gone out. Node hands the
 * socket over while one may still be under way: a new connection on it would never be given the
 * socket (the earlier one's bookkeeping holds it), and its answer would be lost. When an earlier
 * answer closed the connection, the request is dropped, as Node drops what follows such an answer.
 */
export function afterEarlierAnswers(socket: ServedSocket, then: () => void): void {
  const earlier = socket._httpMessage;
  if (earlier === undefined || earlier === null) {
    if (!socket.writableEnded && !socket.destroyed) then();
    return;
  }
  // Node's own `finish` listener, added first, moves the socket on to the next answer.
  earlier.once('finish', () => afterEarlierAnswers(socket, then));
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
