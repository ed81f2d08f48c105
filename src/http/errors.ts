import type { ServerResponse } from 'node:http';

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
  | 'no-region';

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
  'no-region': { status: 503, error: 'no region', retryAfter: true },
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

/** Answers a refusal. `retryAfterSeconds` is used only by refusals that carry `retry-after`. */
export function sendRefusal(
  res: ServerResponse,
  refusal: Refusal,
  bodies: RefusalBodies,
  retryAfterSeconds: number,
): void {
  const spec = REFUSALS[refusal];
  const body = bodies.body(refusal);
  res.statusCode = spec.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', body.length);
  res.setHeader('x-floodgate-region', bodies.region);
  if (spec.shed) res.setHeader('x-floodgate-shed', spec.shed);
  if (spec.retryAfter) res.setHeader('retry-after', retryAfterSeconds);
  res.end(body);
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
    default:
      return 'upstream-unreachable';
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Answers a refusal on a raw socket (an upgrade request has no ServerResponse), then closes it. */
export function writeRefusalToSocket(
  socket: { end(data: string | Buffer): void; destroySoon?: () => void },
  refusal: Refusal,
  bodies: RefusalBodies,
  retryAfterSeconds: number,
): void {
  const spec = REFUSALS[refusal];
  const body = bodies.body(refusal);
  const lines = [
    `HTTP/1.1 ${spec.status} ${STATUS_TEXT[spec.status] ?? 'Error'}`,
    'content-type: application/json',
    `content-length: ${body.length}`,
    `x-floodgate-region: ${bodies.region}`,
    'connection: close',
  ];
  if (spec.shed) lines.push(`x-floodgate-shed: ${spec.shed}`);
  if (spec.retryAfter) lines.push(`retry-after: ${retryAfterSeconds}`);
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}
