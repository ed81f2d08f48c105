import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayConfig } from '../config/load.js';

// Node checks header and request deadlines on this interval (30 s by default), which would let a
// slow-headers client hold its socket for half a minute past `headersTimeoutMs`.
const DEADLINE_CHECK_INTERVAL_MS = 250;

const CLIENT_ERRORS: Record<string, { status: number; text: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout' },
};
const BAD_REQUEST = { status: 400, text: 'Bad Request' };

/**
 * The public listener. Node's parser (llhttp, strict mode) refuses request smuggling shapes such
 * as conflicting content-length and transfer-encoding before any handler runs; this answers those
 * refusals with a small JSON body and closes the connection.
 */
export function createPublicServer(
  listen: GatewayConfig['listen'],
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const server = createServer(
    {
      headersTimeout: listen.headersTimeoutMs,
      requestTimeout: listen.requestTimeoutMs,
      keepAliveTimeout: listen.keepAliveTimeoutMs,
      maxHeaderSize: listen.maxHeaderBytes,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
      noDelay: true,
    },
    onRequest,
  );
  server.on('clientError', answerClientError);
  return server;
}

function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A response already under way on this socket must not get an error status spliced into its body.
  const responding = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage
    ?.headersSent;
  if (!socket.writable || err.code === 'ECONNRESET' || responding) {
    socket.destroy();
    return;
  }
  const { status, text } = CLIENT_ERRORS[err.code ?? ''] ?? BAD_REQUEST;
  const body = `{"error":"${text.toLowerCase()}"}`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon();
}
