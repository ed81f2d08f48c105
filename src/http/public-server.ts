import { createServer, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/load.js';
import { logEvent } from '../observability/logger.js';
import type { BadRequestReason } from '../observability/metrics.js';
import {
  noteParserAnswer,
  REFUSALS,
  RefusalBodies,
  refusalForParserError,
  refusedAsBadRequest,
  writeRefusalToSocket,
} from './errors.js';
import { requestListeners } from './expect-continue.js';
import type { PublicRequest, PublicResponse } from './http2-request.js';
import { afterEarlierAnswers } from './upgrades.js';

// Node checks header and request deadlines on this interval (30 s by default), which would let a
// slow-headers client hold its socket for half a minute past `headersTimeoutMs`.
const DEADLINE_CHECK_INTERVAL_MS = 250;
// Streams one HTTP/2 connection may have open at once (nginx's default is 128): admission sheds
// streams one by one, but an unbounded count would let one client pin unbounded memory.
const MAX_CONCURRENT_STREAMS = 128;
/** Fields a request may have, pseudo-headers included: node:http's limit for HTTP/1.1 (`maxHeadersCount`). */
const MAX_HEADER_FIELDS = 2000;
/** What RFC 9113 §6.5.2 adds to each field's name and value in a header list's size. */
const HTTP2_FIELD_OVERHEAD = 32;

// The parser refuses before any routing, so its answers name no region.
const UNROUTED = new RefusalBodies(undefined);

/** Where parser refusals are counted (GatewayMetrics is one) and logged. */
export interface BadRequestSink {
  metrics: { countBadRequest(reason: BadRequestReason): void };
  logger: Logger;
}

/** A socket as Node's HTTP/1 server keeps it: the answer it is writing, if any. */
export type ServedSocket = Socket & { _httpMessage?: ServerResponse | null };

export type RequestHandler = (req: PublicRequest, res: PublicResponse) => void;

/**
 * The public port: plain HTTP/1.1, or, with `listen.tls`, TLS offering h2 and http/1.1 by ALPN.
 * Both protocols of the TLS server emit `request` into the same handler; HTTP/1.1 over TLS runs
 * Node's own HTTP/1 machinery, so the listen limits and the parser refusals below apply to it as
 * to plain HTTP.
 */
export interface PublicListener {
  readonly server: Server | Http2SecureServer;
  readonly secure: boolean;
  /** Applies what a reload may change: timeouts, and a new certificate for new connections. */
  applySettings(listen: GatewayConfig['listen'], tls: SecureContextOptions | undefined): void;
  /** From now on every answer closes its keep-alive connection; HTTP/2 sessions get GOAWAY. */
  preferNewConnections(): void;
  /** Stops accepting; resolves once every connection has closed. */
  stopAccepting(): Promise<void>;
  closeIdleConnections(): void;
  destroyAllConnections(): void;
}

export interface PublicServerOptions {
  listen: GatewayConfig['listen'];
  /** The certificate and key as read at load (`tlsMaterial.listen`); undefined for plain HTTP. */
  tls: SecureContextOptions | undefined;
  onRequest: RequestHandler;
  sink: BadRequestSink;
}

export function createPublicServer(options: PublicServerOptions): PublicListener {
  const onClientError = (err: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(err, socket as ServedSocket, options.sink);
  const { listen, tls, onRequest } = options;
  if (listen.tls === undefined || tls === undefined) return plainListener(listen, onRequest, onClientError);
  return secureListener(listen, tls, onRequest, onClientError);
}

type ClientErrorHandler = (err: NodeJS.ErrnoException, socket: Socket) => void;

/**
 * Node's parser (llhttp, strict mode) refuses request smuggling shapes such as conflicting
 * content-length and transfer-encoding before any handler runs; `answerClientError` answers those
 * refusals from the refusal table with a small JSON body, closes the connection, and counts and
 * logs each one. Node's own bare 400 for an HTTP/1.1 request without Host is turned off: the
 * request path's `requestProblem` refuses it like any other bad Host, counted and with its region.
 */
function plainListener(
  listen: GatewayConfig['listen'],
  onRequest: RequestHandler,
  onClientError: ClientErrorHandler,
): PublicListener {
  const server = createServer({
    headersTimeout: listen.headersTimeoutMs,
    requestTimeout: listen.requestTimeoutMs,
    keepAliveTimeout: listen.keepAliveTimeoutMs,
    maxHeaderSize: listen.maxHeaderBytes,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
    requireHostHeader: false,
    noDelay: true,
  });
  const listeners = requestListeners(onRequest);
  for (const [event, listener] of Object.entries(listeners)) server.on(event, listener);
  server.on('clientError', onClientError);
  return {
    server,
    secure: false,
    applySettings: (next) => applyHttp1Settings(server, next),
    preferNewConnections() {
      // Added only now, so serving costs nothing until the drain begins.
      for (const event of Object.keys(listeners)) server.prependListener(event, closeWhenAnswered);
    },
    stopAccepting: () => new Promise((resolve) => server.close(() => resolve())),
    closeIdleConnections: () => server.closeIdleConnections(),
    destroyAllConnections: () => server.closeAllConnections(),
  };
}

function secureListener(
  listen: GatewayConfig['listen'],
  tls: SecureContextOptions,
  onRequest: RequestHandler,
  onClientError: ClientErrorHandler,
): PublicListener {
  const http2 = listen.tls!.http2;
  const server = createSecureServer({
    ...tls,
    allowHTTP1: true,
    // As on the plain port: small answers leave at once instead of waiting on Nagle's algorithm.
    noDelay: true,
    // Without h2 only http/1.1 is agreed; a client offering neither gets no ALPN and speaks HTTP/1.1.
    ...(http2
      ? {}
      : {
          ALPNCallback: ({ protocols }: { protocols: string[] }) =>
            protocols.includes('http/1.1') ? 'http/1.1' : undefined,
        }),
    // The request path holds each stream to maxHeaderBytes counted as HTTP/1.1 counts it, answering
    // 431; the list size offered here adds the 32 bytes a field counts for in HTTP/2 (RFC 9113
    // §6.5.2), so that a stream within the limit is not reset by nghttp2 for its number of fields.
    settings: {
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: listen.maxHeaderBytes + HTTP2_FIELD_OVERHEAD * MAX_HEADER_FIELDS,
    },
    // Node's default is 128 fields, pseudo-headers included: a browser sending each cookie as a
    // field of its own (RFC 9113 §8.2.3) would soon be reset where HTTP/1.1 takes its request.
    maxHeaderListPairs: MAX_HEADER_FIELDS,
  });
  // The HTTP/1.1 side reads these from the server object (createServer would have set them).
  Object.assign(server, {
    maxHeaderSize: listen.maxHeaderBytes,
    requireHostHeader: false,
    connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
  });
  applyHttp1Settings(server, listen);
  const listeners = requestListeners(onRequest);
  for (const [event, listener] of Object.entries(listeners)) server.on(event, listener);
  // Failed handshakes come here too; answerClientError answers parser refusals only, closing the rest.
  server.on('clientError', onClientError);
  const sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<TLSSocket>();
  let keepAliveMs = listen.keepAliveTimeoutMs;
  server.on('secureConnection', (socket: TLSSocket) => {
    // A declined upgrade comes back here as the same socket (http/upgrades.ts).
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    closeWhenIdle(session, () => keepAliveMs);
  });
  return {
    server,
    secure: true,
    applySettings(next, nextTls) {
      applyHttp1Settings(server, next);
      keepAliveMs = next.keepAliveTimeoutMs;
      if (nextTls !== undefined) server.setSecureContext(nextTls);
    },
    preferNewConnections() {
      for (const event of Object.keys(listeners)) server.prependListener(event, closeWhenAnswered);
      // GOAWAY: streams already open finish, new ones go to a new connection.
      for (const session of sessions) session.close();
    },
    stopAccepting: () => new Promise((resolve) => server.close(() => resolve())),
    closeIdleConnections() {
      // Declared by Node for this server (its HTTP/1.1 side), missing from the type definitions.
      (server as unknown as Server).closeIdleConnections();
      for (const session of sessions) session.close();
    },
    destroyAllConnections() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** A keep-alive answer says `connection: close`; an HTTP/2 stream's session gets GOAWAY after it. */
function closeWhenAnswered(req: PublicRequest, res: PublicResponse): void {
  if ('stream' in req) req.stream.session?.close();
  else (res as ServerResponse).shouldKeepAlive = false;
}

/**
 * An idle HTTP/2 connection closes like an idle keep-alive one: gracefully, once `idleMs()` has
 * passed with no stream open. Node's own session timer counts frames read and written, so an
 * upload held by flow control while a slow upstream reads it looked idle and got a GOAWAY halfway.
 * A reload's new timeout applies from the next time the connection goes idle, as on HTTP/1.1.
 */
function closeWhenIdle(session: ServerHttp2Session, idleMs: () => number): void {
  let open = 0;
  const closeIfIdle = () => {
    if (open === 0) session.close();
  };
  let armedMs = idleMs();
  let timer = setTimeout(closeIfIdle, armedMs).unref();
  session.on('stream', (stream: ServerHttp2Stream) => {
    open++;
    stream.once('close', () => {
      if (--open > 0) return;
      // Fired or not, the timer counts again from the last stream's end.
      if (armedMs === idleMs()) {
        timer.refresh();
        return;
      }
      clearTimeout(timer);
      armedMs = idleMs();
      timer = setTimeout(closeIfIdle, armedMs).unref();
    });
  });
  session.once('close', () => clearTimeout(timer));
}

type Http1Settings = Pick<Server, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout'>;

function applyHttp1Settings(
  server: Http1Settings | Http2SecureServer,
  listen: GatewayConfig['listen'],
): void {
  const target = server as Http1Settings;
  target.headersTimeout = listen.headersTimeoutMs;
  target.requestTimeout = listen.requestTimeoutMs;
  target.keepAliveTimeout = listen.keepAliveTimeoutMs;
}

/** Parser errors and deadlines; anything else on `clientError` is a socket failure, not a request. */
function isRefusedInput(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT');
}

// Sockets whose refusal waits behind an earlier answer: Node keeps handing the parser what the
// client sends, and each chunk fails again, which must not be counted or answered again.
const refusalsWaiting = new WeakSet<ServedSocket>();

function answerClientError(err: NodeJS.ErrnoException, socket: ServedSocket, sink: BadRequestSink): void {
  if (refusalsWaiting.has(socket)) return;
  // The parser can complain about a request after its handler refused it (an unknown transfer
  // coding is refused at the headers, then fails again on the body): one request, one count.
  if (!isRefusedInput(err.code) || refusedAsBadRequest(socket)) {
    socket.destroy();
    return;
  }
  // A request on this socket that reached its handler has a response attached. Once that request
  // was read whole, the refused one was pipelined behind it: its answer goes first (RFC 9112 §9.3).
  const attached = socket._httpMessage ?? undefined;
  const earlier = attached?.req.complete === true ? attached : undefined;
  const response = earlier === undefined ? attached : undefined;
  const refusal = refusalForParserError(err.code, response !== undefined);
  const spec = REFUSALS[refusal];
  sink.metrics.countBadRequest(spec.badRequest!);
  logEvent(sink.logger, 'bad-request', {
    reason: spec.badRequest,
    status: spec.status,
    code: err.code,
    client: socket.remoteAddress,
  });
  const answer = { refusal, bodies: UNROUTED, retryAfterSeconds: 0, requestId: undefined };
  if (earlier !== undefined) {
    refusalsWaiting.add(socket);
    afterEarlierAnswers(socket, () => {
      writeRefusalToSocket(socket, answer);
      socket.destroySoon();
    });
    return;
  }
  // A response already under way on this socket must not get an error status spliced into its body.
  if (!socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  if (response !== undefined) noteParserAnswer(response, refusal);
  writeRefusalToSocket(socket, answer);
  socket.destroySoon();
}
