import { type ServerResponse, STATUS_CODES } from 'node:http';

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
  | 'not-implemented';

interface RefusalSpec {
  status: number;
  error: string;
  /** The `x-floodgate-shed` value; absent for failures that are not load shedding. */
  shed?: string;
  retryAfter: boolean;
}

export const REFUSALS: Record<Refusal, RefusalSpec> = {
  rate: { status: 503, error: 'overloaded', shed: 'rate', retryAfter: true },
  concurrency: { status: 503, error: 'overloaded', shed: 'concurrency', retryAfter: true },
  'circuit-open': { status: 503, error: 'overloaded', shed: 'circuit-open', retryAfter: true },
  surge: { status: 503, error: 'overloaded', shed: 'surge', retryAfter: true },
  'client-rate': { status: 429, error: 'too many requests', shed: 'client-rate', retryAfter: true },
  'upstream-timeout': { status: 504, error: 'upstream timeout', retryAfter: false },
  'upstream-unreachable': { status: 502, error: 'bad gateway', retryAfter: false },
  'body-too-large': { status: 413, error: 'request body too large', retryAfter: false },
  'bad-request': { status: 400, error: 'bad request', retryAfter: false },
  'not-implemented': { status: 501, error: 'transfer coding not implemented', retryAfter: false },
};

const refusalNames = Object.keys(REFUSALS) as Refusal[];

/** Pre-rendered bodies for one region, so a shed costs no JSON work. */
export class RefusalBodies {
  private readonly bodies = new Map<Refusal, Buffer>();

  constructor(readonly region: string) {
    for (const name of refusalNames) {
      const spec = REFUSALS[name];
      const body = spec.shed
        ? { error: spec.error, reason: spec.shed, region }
        : { error: spec.error, region };
      this.bodies.set(name, Buffer.from(JSON.stringify(body)));
    }
  }

  body(refusal: Refusal): Buffer {
    return this.bodies.get(refusal)!;
  }
}

/** The refusal's headers as a flat `[name, value, ...]` list, shared by both ways of answering. */
function refusalHeaders(answer: RefusalAnswer): string[] {
  const { refusal, bodies, retryAfterSeconds } = answer;
  const spec = REFUSALS[refusal];
  const headers = [
    'content-type',
    'application/json',
    'content-length',
    String(bodies.body(refusal).length),
    'x-floodgate-region',
    bodies.region,
    'x-request-id',
    answer.requestId,
  ];
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
  requestId: string;
}

export function sendRefusal(res: ServerResponse, answer: RefusalAnswer): void {
  res.writeHead(REFUSALS[answer.refusal].status, refusalHeaders(answer));
  res.end(answer.bodies.body(answer.refusal));
}

/**
 * undici's error codes mapped to what the client is told. Timeouts before response headers are
 * 504; everything else that stops an upstream from answering is 502.
 */
export function refusalForUpstreamError(err: Error): Refusal {
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'upstream-timeout';
    // undici refused to send what the client gave us: the client's fault, not the upstream's.
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return 'bad-request';
    default:
      return 'upstream-unreachable';
  }
}

/** Answers a refusal on a raw socket (an upgrade request has no ServerResponse), then closes it. */
export function writeRefusalToSocket(socket: { end(data: Buffer): void }, answer: RefusalAnswer): void {
  const { refusal, bodies } = answer;
  const status = REFUSALS[refusal].status;
  const headers = refusalHeaders(answer);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nconnection: close\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n`), bodies.body(refusal)]));
}
