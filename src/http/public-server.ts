import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/load.js';
import { logEvent } from '../observability/logger.js';
import type { BadRequestReason } from '../observability/metrics.js';
import {
  REFUSALS,
  RefusalBodies,
  refusalForParserError,
  refusedAsBadRequest,
  writeRefusalToSocket,
} from './errors.js';

// Node checks header and request deadlines on this interval (30 s by default), which would let a
// slow-headers client hold its socket for half a minute past `headersTimeoutMs`.
const DEADLINE_CHECK_INTERVAL_MS = 250;

// The parser refuses before any routing, so its answers name no region.
const UNROUTED = new RefusalBodies(undefined);

/** Where parser refusals are counted (GatewayMetrics is one) and logged. */
export interface BadRequestSink {
  metrics: { countBadRequest(reason: BadRequestReason): void };
  logger: Logger;
}

type ServedSocket = Socket & { _httpMessage?: ServerResponse | null };

/**
 * The public listener. Node's parser (llhttp, strict mode) refuses request smuggling shapes such
 * as conflicting content-length and transfer-encoding before any handler runs; this answers those
 * refusals from the refusal table with a small JSON body, closes the connection, and counts and
 * logs each one. Node's own bare 400 for an HTTP/1.1 request without Host is turned off: the
 * request path's `requestProblem` refuses it like any other bad Host, counted and with its region.
 */
export function createPublicServer(
  listen: GatewayConfig['listen'],
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  sink: BadRequestSink,
): Server {
  const server = createServer(
    {
      headersTimeout: listen.headersTimeoutMs,
      requestTimeout: listen.requestTimeoutMs,
      keepAliveTimeout: listen.keepAliveTimeoutMs,
      maxHeaderSize: listen.maxHeaderBytes,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
      requireHostHeader: false,
      noDelay: true,
    },
    onRequest,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(err, socket as ServedSocket, sink),
  );
  return server;
}

/** Parser errors and deadlines; anything else on `clientError` is a socket failure, not a request. */
function isRefusedInput(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT');
}

function answerClientError(err: NodeJS.ErrnoException, socket: ServedSocket, sink: BadRequestSink): void {
  // The parser can complain about a request after its handler refused it (an unknown transfer
  // coding is refused at the headers, then fails again on the body): one request, one count.
  if (!isRefusedInput(err.code) || refusedAsBadRequest(socket)) {
    socket.destroy();
    return;
  }
  // A request on this socket that reached its handler has a response attached.
  const response = socket._httpMessage ?? undefined;
  const refusal = refusalForParserError(err.code, response !== undefined);
  const spec = REFUSALS[refusal];
  sink.metrics.countBadRequest(spec.badRequest!);
  logEvent(sink.logger, 'bad-request', {
    reason: spec.badRequest,
    status: spec.status,
    code: err.code,
    client: socket.remoteAddress,
  });
  // A response already under way on this socket must not get an error status spliced into its body.
  if (!socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  writeRefusalToSocket(socket, { refusal, bodies: UNROUTED, retryAfterSeconds: 0, requestId: undefined });
  socket.destroySoon();
}
