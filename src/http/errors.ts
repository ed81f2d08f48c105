import { STATUS_CODES } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { BadRequestReason } from '../observability/metrics.js';
import { httpDate } from './http-date.js';
import { dropUnreadBody, type PublicResponse, writeHeadList } from './http2-request.js';

/**
 * Every refusal and failure the gateway answers itself, in one table: status, the
 * `x-floodgate-shed` reason where there is one, and the small JSON body. Nowhere else writes a
 * status code by hand. Bodies are built per region once (see `RefusalBodies`), not per request.
 */
export type Refusal =
  | 'rate'
  | 'concurrency'
  | 'circuit-open'
  | 'surge'
  | 'client-rate'
  | 'upstream-timeout'
  | 'upstream-unreachable'
  | 'body-too-large'
  | 'bad-request'
  | 'bad-method'
  | 'bad-host'
  | 'bad-framing'
  | 'bad-version'
  | 'expectation-failed'
  | 'version-not-supported'
  | 'not-implemented'
  | 'method-not-implemented'
  | 'headers-too-large'
  | 'headers-timeout'
  | 'request-timeout';

interface RefusalSpec {
  status: number;
  error: string;
  /** The `x-floodgate-shed` value; absent for failures that are not load shedding. */
  shed?: string;
  retryAfter: boolean;
  /**
   * The `floodgate_bad_requests_total` reason, set on every refusal of malformed or oversized
   * input. Each of those also closes the connection, as nginx does: the request's framing may be in
   * doubt (RFC 9112 §6.1) or its body left unread, so the next bytes are not trusted as a request.
   */
  badRequest?: BadRequestReason;
}

export const REFUSALS: Record<Refusal, RefusalSpec> = {
  rate: { status: 503, error: 'overloaded', shed: 'rate', retryAfter: true },
  concurrency: { status: 503, error: 'overloaded', shed: 'concurrency', retryAfter: true },
  'circuit-open': { status: 503, error: 'overloaded', shed: 'circuit-open', retryAfter: true },
  surge: { status: 503, error: 'overloaded', shed: 'surge', retryAfter: true },
  'client-rate': { status: 429, error: 'too many requests', shed: 'client-rate', retryAfter: true },
  'upstream-timeout': { status: 504, error: 'upstream timeout', retryAfter: false },
  'upstream-unreachable': { status: 502, error: 'bad gateway', retryAfter: false },
  'body-too-large': {
    status: 413,
    error: 'request body too large',
    retryAfter: false,
    badRequest: 'body-too-large',
  },
  'bad-request': { status: 400, error: 'bad request', retryAfter: false, badRequest: 'malformed' },
  'bad-method': { status: 400, error: 'bad request', retryAfter: false, badRequest: 'method' },
  'bad-host': { status: 400, error: 'bad host', retryAfter: false, badRequest: 'bad-host' },
  'bad-framing': {
    status: 400,
    error: 'bad request',
    retryAfter: false,
    badRequest: 'bad-framing',
  },
  'bad-version': { status: 400, error: 'bad request', retryAfter: false, badRequest: 'version' },
  'expectation-failed': {
    status: 417,
    error: 'expectation failed',
    retryAfter: false,
    badRequest: 'expectation',
  },
  'version-not-supported': {
    status: 505,
    error: 'http version not supported',
    retryAfter: false,
    badRequest: 'version',
  },
  'not-implemented': {
    status: 501,
    error: 'transfer coding not implemented',
    retryAfter: false,
    badRequest: 'bad-framing',
  },
  // CONNECT: the gateway is no tunnel (RFC 9110 §9.3.6). Counted as a method refusal, like a method
  // llhttp does not know, so probes for an open proxy show on the dashboard.
  'method-not-implemented': {
    status: 501,
    error: 'method not implemented',
    retryAfter: false,
    badRequest: 'method',
  },
  'headers-too-large': {
    status: 431,
    error: 'request header fields too large',
    retryAfter: false,
    badRequest: 'headers-too-large',
  },
  'headers-timeout': {
    status: 408,
    error: 'request timeout',
    retryAfter: false,
    badRequest: 'headers-timeout',
  },
  'request-timeout': {
    status: 408,
    error: 'request timeout',
    retryAfter: false,
    badRequest: 'request-timeout',
  },
};

const refusalNames = Object.keys(REFUSALS) as Refusal[];

/**
 * Pre-rendered bodies for one region, so a shed costs no JSON work. Without a region (requests
 * refused by the HTTP parser, before any routing) bodies and headers name none. Kept as strings
 * (JSON of ASCII names): Node joins a string body to the header block and sends both in one
 * write, where a Buffer body costs a writev of two.
 */
export class RefusalBodies {
  private readonly bodies = new Map<Refusal, string>();
  private readonly lengths = new Map<Refusal, string>();
  private readonly sizes = new Map<Refusal, number>();

  constructor(readonly region: string | undefined) {
    for (const name of refusalNames) {
      const spec = REFUSALS[name];
      const body = spec.shed
        ? { error: spec.error, reason: spec.shed, region }
        : { error: spec.error, region };
      const text = JSON.stringify(body);
      const size = Buffer.byteLength(text);
      this.bodies.set(name, text);
      this.sizes.set(name, size);
      this.lengths.set(name, String(size));
    }
  }

  body(refusal: Refusal): string {
    return this.bodies.get(refusal)!;
  }

  /** The body's `content-length`. */
  length(refusal: Refusal): string {
    return this.lengths.get(refusal)!;
  }

  /** The body's size in bytes, for the access line. */
  size(refusal: Refusal): number {
    return this.sizes.get(refusal)!;
  }
}

/** The refusal's headers as a flat `[name, value, ...]` list, shared by both ways of answering. */
function refusalHeaders(answer: RefusalAnswer): string[] {
  const { refusal, bodies, retryAfterSeconds } = answer;
  const spec = REFUSALS[refusal];
  const headers = ['content-type', 'application/json', 'content-length', bodies.length(refusal)];
  if (bodies.region !== undefined) headers.push('x-floodgate-region', bodies.region);
  if (answer.requestId !== undefined) headers.push('x-request-id', answer.requestId);
  if (spec.shed) headers.push('x-floodgate-shed', spec.shed);
  if (spec.retryAfter) headers.push('retry-after', String(retryAfterSeconds));
  return headers;
}

/** One refusal to answer: what, for which region's bodies, and the request's id. */
export interface RefusalAnswer {
  refusal: Refusal;
  bodies: RefusalBodies;
  /** Used only by refusals that carry `retry-after`. */
  retryAfterSeconds: number;
  /** undefined only for what the HTTP parser refused: no request was made of it. */
  requestId: string | undefined;
}

// Connections whose request was refused as bad input: what the parser says about their remaining
// bytes is about the same request, already answered and counted.
const refusedConnections = new WeakSet<object>();

function closeAfterBadRequest(res: PublicResponse): void {
  // An HTTP/2 stream stands alone: the connection's other streams are not the refused request.
  if (res instanceof Http2ServerResponse) return;
  res.shouldKeepAlive = false;
  if (res.socket !== null) refusedConnections.add(res.socket);
}

/** True when this connection's request was already refused as bad input (see `sendRefusal`). */
export function refusedAsBadRequest(socket: object): boolean {
  return refusedConnections.has(socket);
}

// Responses whose request node:http's parser refused (a request timeout, mid-body) and answered on
// the socket itself, before closing it: their access line says so, not that the client left.
const parserAnswered = new WeakMap<object, Refusal>();

export function noteParserAnswer(res: object, refusal: Refusal): void {
  parserAnswered.set(res, refusal);
}

export function parserAnswerOf(res: object): Refusal | undefined {
  return parserAnswered.get(res);
}

export function sendRefusal(res: PublicResponse, answer: RefusalAnswer): void {
  const spec = REFUSALS[answer.refusal];
  if (spec.badRequest !== undefined) closeAfterBadRequest(res);
  writeHeadList(res, spec.status, refusalHeaders(answer));
  res.end(answer.bodies.body(answer.refusal));
  dropUnreadBody(res);
}

/**
 * undici's error codes mapped to what the client is told. Timeouts before response headers are
 * 504; everything else that stops an upstream from answering is 502.
 */
export function refusalForUpstreamError(err: Error): Refusal {
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    // After the headers went out, so never answered: only the access line's reason comes of it.
    case 'UND_ERR_BODY_TIMEOUT':
      return 'upstream-timeout';
    // undici refused to send what the client gave us: the client's fault, not the upstream's.
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return 'bad-request';
    default:
      return 'upstream-unreachable';
  }
}

/**
 * What node:http's parser refused (its `clientError` codes), as a refusal of this table. Node
 * reports a headers timeout and a whole-request timeout as one error; `headersReceived` (a request
 * on the socket got as far as its handler) tells them apart.
 */
export function refusalForParserError(code: string | undefined, headersReceived: boolean): Refusal {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers-too-large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return headersReceived ? 'request-timeout' : 'headers-timeout';
    // llhttp knows a fixed table of methods (node:http's METHODS); anything else ends here.
    case 'HPE_INVALID_METHOD':
      return 'bad-method';
    case 'HPE_INVALID_VERSION':
      return 'bad-version';
    // The HTTP/2 connection preface (`PRI * HTTP/2.0`) on a cleartext HTTP/1 port.
    case 'HPE_PAUSED_H2_UPGRADE':
      return 'version-not-supported';
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'bad-framing';
    // Node answers this one 413 itself: chunk extensions are part of the body's bytes.
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'body-too-large';
    default:
      return 'bad-request';
  }
}

/** Answers a refusal on a raw socket (an upgrade request has no ServerResponse), then closes it. */
export function writeRefusalToSocket(socket: { end(data: string): void }, answer: RefusalAnswer): void {
  const { refusal, bodies } = answer;
  const status = REFUSALS[refusal].status;
  const headers = refusalHeaders(answer);
  const statusLine = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`;
  let head = `${statusLine}\r\ndate: ${httpDate()}\r\nconnection: close\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(`${head}\r\n${bodies.body(refusal)}`);
}
