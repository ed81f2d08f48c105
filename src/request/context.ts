import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from '../admission/clock.js';
import type { Priority } from '../admission/priority.js';
import type { Refusal } from '../http/errors.js';
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
  readonly req: IncomingMessage;
  /** undefined for an upgrade, which is answered on `socket` itself. */
  readonly res: ServerResponse | undefined;
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
   * kept copy answers in place of an upstream's 5xx.
   */
  reason: Refusal | 'upstream-5xx' | undefined = undefined;
  /** The origin that answered, when one did. */
  upstream: string | undefined = undefined;
  /** Seconds for `retry-after` when a step already knows them (a client over its own limit). */
  retryAfterSeconds = 0;
  status = 0;
  bytes = 0;

  constructor(
    runtime: Runtime,
    req: IncomingMessage,
    res: ServerResponse | undefined,
    socket: Duplex,
    readonly clock: Clock,
  ) {
    this.runtime = runtime;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.startedAt = clock();
    this.home = runtime.regionFor(req.headers[runtime.regionHeader]);
    this.region = this.home;
  }

  /** The home region's name when another region serves the request, else undefined. */
  get failoverFrom(): string | undefined {
    return this.region === this.home ? undefined : this.home.name;
  }
}
