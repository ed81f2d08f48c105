import { Http2ServerRequest } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Clock } from '../admission/clock.js';
import type { Priority } from '../admission/priority.js';
import { CLIENT_CLOSED } from '../domain.js';
import { parserAnswerOf, REFUSALS, type Refusal } from '../http/errors.js';
import type { PublicRequest, PublicResponse } from '../http/http2-request.js';
import type { Region } from '../region.js';
import type { Route } from '../routing/route-table.js';
import type { Runtime } from '../runtime.js';

/**
 * Everything one request carries through the pipeline, made once when it arrives. The runtime is
 * captured here, so a reload mid-request never changes the rules the request finishes on. Steps
 * fill in what they decide (route and priority, the region serving it, why it was refused) and
 * the last step records it all in one access line.
 */
export class RequestContext {
  readonly runtime: Runtime;
  /** An HTTP/1.1 request, or an HTTP/2 stream through Node's compatibility API. */
  readonly req: PublicRequest;
  /** undefined for an upgrade, which is answered on `socket` itself. */
  readonly res: PublicResponse | undefined;
  /** The few steps that differ for HTTP/2 (headers sent upstream, answers, body framing) check this. */
  readonly http2: boolean;
  readonly socket: Duplex;
  readonly startedAt: number;
  /** The region the routing header (or the default) names: the one whose limits apply first. */
  readonly home: Region;
  requestId = '';
  /** The peer's address, or the last untrusted hop of x-forwarded-for from a trusted proxy. */
  client = '';
  /** The scheme the client used: `https` once the public port speaks TLS. */
  scheme: 'http' | 'https' = 'http';
  /** The path sent upstream; '' until classified. */
  path = '';
  route!: Route;
  priority: Priority = 'normal';
  /** The region serving the request: the home region, or the failover region that took it. */
  region: Region;
  /**
   * Why the request was refused or forwarding failed (an access-line field); `upstream-5xx` when a
   * kept copy answers in place of an upstream's 5xx, `client-closed` when the client left first,
   * `shutdown` when the end of a shutdown's grace period cut it.
   */
  reason: Refusal | 'upstream-5xx' | 'client-closed' | 'shutdown' | undefined = undefined;
  /** The origin that answered, when one did. */
  upstream: string | undefined = undefined;
  /** Seconds for `retry-after` when a step already knows them (a client over its own limit). */
  retryAfterSeconds = 0;
  /** Shadow mode let it through although admission would have shed it: it skips the pacing queue. */
  shedInShadow = false;
  /**
   * How long it waited before its trip upstream: for its region's pacing turn, and after a refusal
   * at home, for a failover region's spare capacity (an access-line field when not 0).
   */
  waitMs = 0;
  /** For a WebSocket handshake: the first bytes after its headers, passed on to the tunnel. */
  upgradeHead: Buffer | undefined = undefined;
  /** The hops a TRACE or OPTIONS request still allows (`max-forwards`); 0 is answered here. */
  maxForwards: number | undefined = undefined;
  status = 0;
  bytes = 0;

  constructor(
    runtime: Runtime,
    req: PublicRequest,
    res: PublicResponse | undefined,
    socket: Duplex,
    readonly clock: Clock,
  ) {
    this.runtime = runtime;
    this.req = req;
    this.res = res;
    // By the request's kind, never its version: an HTTP/1 request line may claim HTTP/2.0 (refused as 505).
    this.http2 = req instanceof Http2ServerRequest;
    this.socket = socket;
    // A TLS socket (or, for HTTP/2, the stream's view of its session's socket) says it is encrypted.
    if ((socket as { encrypted?: boolean }).encrypted === true) this.scheme = 'https';
    this.startedAt = clock();
    this.home = runtime.regionFor(req.headers[runtime.regionHeader]);
    this.region = this.home;
  }

  /**
   * Its connection closed before its answer ended: the client left (499), or node:http's parser
   * answered the request itself (a request timeout) and closed, and the line says what was sent.
   */
  markGone(): void {
    const answered = this.res === undefined ? undefined : parserAnswerOf(this.res);
    this.status = answered === undefined ? CLIENT_CLOSED : REFUSALS[answered].status;
    this.reason = answered ?? 'client-closed';
  }

  /** The home region's name when another region serves the request, else undefined. */
  get failoverFrom(): string | undefined {
    return this.region === this.home ? undefined : this.home.name;
  }
}
