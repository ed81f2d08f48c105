import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Outcome } from './admin/admin-view.js';
import type { Clock } from './admission/clock.js';
import { lowerOnly, type Priority } from './admission/priority.js';
import type { StaleCache } from './cache/stale-cache.js';
import { clientAddress, forwardedFor } from './http/client-ip.js';
import { REFUSALS, type Refusal, sendRefusal, writeRefusalToSocket } from './http/errors.js';
import {
  type ForwardedValues,
  framingProblem,
  prepareUpgradeHeaders,
  upstreamRequestHeaders,
} from './http/hop-by-hop.js';
import { isIdempotent } from './http/methods.js';
import type { Region } from './region.js';
import type { Route } from './routing/route-table.js';
import { upstreamPath } from './routing/route-table.js';
import type { Runtime } from './runtime.js';
import type { BreakerCall } from './upstream/breaker.js';
import type { ExchangeEnvironment } from './upstream/exchange-environment.js';
import { Exchange } from './upstream/forward.js';
import { serveKeptCopy } from './upstream/serve-stale.js';
import type { WebSocketTunnels } from './upstream/websocket.js';

/**
 * One request's path through Floodgate, top to bottom:
 * choose the home region -> refuse what is malformed or too large -> match the route and its
 * priority -> the client's own limit -> the region's breaker and admission -> forward upstream, or,
 * when refused, fail over to a region with room, serve a stale copy, or shed with 503.
 */
export class Gateway implements ExchangeEnvironment {
  runtime: Runtime;

  constructor(
    runtime: Runtime,
    readonly clock: Clock,
    private readonly logger: Logger,
    private readonly tunnels: WebSocketTunnels,
  ) {
    this.runtime = runtime;
  }

  get staleCache(): StaleCache {
    return this.runtime.staleCache;
  }

  /** The public server's request listener. */
  readonly handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = this.clock();
    const rt = this.runtime;
    const region = rt.regionFor(req.headers[rt.regionHeader]);
    const path = upstreamPath(req.url ?? '');
    if (path === undefined) return this.refuse(req, res, region, 'bad-request', 'normal', startedAt);
    const framing = framingProblem(req.rawHeaders, req.headers['transfer-encoding']);
    if (framing !== undefined) {
      res.shouldKeepAlive = false;
      return this.refuse(req, res, region, framing, 'normal', startedAt);
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > rt.maxBodyBytes) {
      // The body is never read, so the connection cannot be reused for another request.
      res.shouldKeepAlive = false;
      return this.refuse(req, res, region, 'body-too-large', 'normal', startedAt);
    }
    const route = rt.routes.match(path, req.method!);
    const priority = lowerOnly(route.priority, req.headers['x-priority']);
    const clientWait = this.overClientLimit(req, rt, region, priority);
    if (clientWait > 0) return this.refuse(req, res, region, 'client-rate', priority, startedAt, clientWait);
    const admitted = this.admit(region, priority, rt.enforce);
    if (typeof admitted === 'string') {
      return this.whenRefused(req, res, rt, region, route, priority, path, admitted, startedAt);
    }
    this.forward(req, res, rt, region, route, priority, path, admitted, undefined, startedAt);
  };

  /** The public server's `upgrade` listener: WebSocket handshakes are admitted like any other request. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const startedAt = this.clock();
    const rt = this.runtime;
    const region = rt.regionFor(req.headers[rt.regionHeader]);
    socket.on('error', destroySocket);
    const path = upstreamPath(req.url ?? '');
    // Only WebSocket handshakes are tunnelled (http-proxy drops anything else without an answer).
    if (path === undefined || req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return this.refuse(req, socket, region, 'bad-request', 'normal', startedAt);
    }
    const priority = lowerOnly(rt.routes.match(path, req.method!).priority, req.headers['x-priority']);
    const clientWait = this.overClientLimit(req, rt, region, priority);
    if (clientWait > 0)
      return this.refuse(req, socket, region, 'client-rate', priority, startedAt, clientWait);
    const admitted = this.admit(region, priority, rt.enforce);
    if (typeof admitted === 'string') {
      const retryAfter = this.minimumRetryAfter(rt, region, admitted);
      return this.refuse(req, socket, region, admitted, priority, startedAt, retryAfter);
    }
    prepareUpgradeHeaders(req.headers, this.forwardedValues(req, rt));
    this.tunnels.tunnel(req, socket, head, region, admitted);
    this.record(region, 'forwarded', 101, priority, req, startedAt);
  };

  /**
   * The region's breaker, then its admission core. Returns the breaker call that the exchange
   * settles, or why the request is refused. In shadow mode admission only counts what it would
   * have shed; the breaker acts in both modes.
   */
  private admit(region: Region, priority: Priority, enforce: boolean): BreakerCall | Refusal {
    if (!region.breaker.allowsRequest) {
      region.admission.recordShed();
      return 'circuit-open';
    }
    const shed = region.admission.admit(priority, enforce);
    if (shed !== null) {
      if (enforce) return shed;
      region.metrics.shed(shed, priority, true);
      this.logger.info({ event: 'would-shed', region: region.name, reason: shed, priority });
    }
    const call = region.breaker.begin();
    if (call !== null) return call;
    // Another request took the half-open probe between the check and now.
    region.admission.release();
    return 'circuit-open';
  }

  /** A refused request may still be answered: by a failover region with room, or from the stale cache. */
  private whenRefused(
    req: IncomingMessage,
    res: ServerResponse,
    rt: Runtime,
    region: Region,
    route: Route,
    priority: Priority,
    path: string,
    refusal: Refusal,
    startedAt: number,
  ): void {
    if (refusal !== 'surge' && region.config.failover.length > 0 && isIdempotent(req.method)) {
      const handOver = () => region.metrics.shed(refusal, priority, false);
      if (this.failOver(req, res, region, route, priority, path, startedAt, handOver)) return;
    }
    if (route.staleTtlMs !== undefined && req.method === 'GET') {
      const status = serveKeptCopy(res, rt.staleCache, region.name, region.name, path, this.clock());
      if (status !== undefined) {
        region.metrics.shed(refusal, priority, false);
        this.record(region, 'stale', status, priority, req, startedAt);
        return;
      }
    }
    const retryAfter =
      refusal === 'rate'
        ? region.admission.retryAfterSeconds(priority)
        : this.minimumRetryAfter(rt, region, refusal);
    this.refuse(req, res, region, refusal, priority, startedAt, retryAfter);
  }

  /** Forwards to the first failover region whose breaker is closed and that has tokens to spare. */
  failOver(
    req: IncomingMessage,
    res: ServerResponse,
    home: Region,
    route: Route,
    priority: Priority,
    path: string,
    startedAt: number,
    handOver: () => void,
  ): boolean {
    const rt = this.runtime;
    for (const name of home.config.failover) {
      const target = rt.regions.get(name);
      if (target === undefined || target.breaker.state !== 'closed' || !target.admission.admitSpillover())
        continue;
      const call = target.breaker.begin();
      if (call === null) {
        target.admission.release();
        continue;
      }
      handOver();
      this.forward(req, res, rt, target, route, priority, path, call, home.name, startedAt);
      return true;
    }
    return false;
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    rt: Runtime,
    region: Region,
    route: Route,
    priority: Priority,
    path: string,
    call: BreakerCall | null,
    failoverFrom: string | undefined,
    startedAt: number,
  ): void {
    const headers = upstreamRequestHeaders(
      req.rawHeaders,
      req.headers.connection,
      this.forwardedValues(req, rt),
    );
    const exchange = new Exchange(
      this,
      req,
      res,
      region,
      route,
      priority,
      path,
      startedAt,
      call,
      failoverFrom,
    );
    const chunked =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
    exchange.dispatch(headers, hasBody(req), chunked ? rt.maxBodyBytes : undefined);
  }

  private forwardedValues(req: IncomingMessage, rt: Runtime): ForwardedValues {
    const peer = req.socket.remoteAddress ?? '';
    return {
      forwardedFor: forwardedFor(peer, req.headers['x-forwarded-for'], rt.trusted),
      proto: 'http',
      host: req.headers.host,
    };
  }

  /** Answers a refusal on a response, or on the raw socket of an upgrade request. */
  private refuse(
    req: IncomingMessage,
    to: ServerResponse | Duplex,
    region: Region,
    refusal: Refusal,
    priority: Priority,
    startedAt: number,
    retryAfterSeconds = 1,
  ): void {
    const outcome: Outcome = REFUSALS[refusal].shed === undefined ? 'error' : 'shed';
    if (outcome === 'shed') region.metrics.shed(refusal, priority, false);
    if (to instanceof ServerResponse) sendRefusal(to, refusal, region.refusals, retryAfterSeconds);
    else writeRefusalToSocket(to, refusal, region.refusals, retryAfterSeconds);
    this.record(region, outcome, REFUSALS[refusal].status, priority, req, startedAt);
  }

  /**
   * The seconds a client over its own limit should wait, when that limit is enforced; else 0. In
   * shadow mode the would-be refusal is only counted and logged.
   */
  private overClientLimit(req: IncomingMessage, rt: Runtime, region: Region, priority: Priority): number {
    if (rt.clientLimiter === undefined) return 0;
    const wait = this.clientRetryAfter(req, rt);
    if (wait === 0 || rt.enforce) return wait;
    region.metrics.shed('client-rate', priority, true);
    this.logger.info({ event: 'would-shed', region: region.name, reason: 'client-rate', priority });
    return 0;
  }

  /** 0 when the client is within its own limit, else the seconds it should wait. */
  private clientRetryAfter(req: IncomingMessage, rt: Runtime): number {
    const header = rt.clientKeyHeader;
    const named = header === undefined ? undefined : req.headers[header];
    const key =
      typeof named === 'string' && named !== ''
        ? `h:${named}`
        : `ip:${clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], rt.trusted)}`;
    const limiter = rt.clientLimiter!;
    return limiter.tryTake(key) ? 0 : limiter.retryAfterSeconds(key);
  }

  private minimumRetryAfter(rt: Runtime, region: Region, refusal: Refusal): number {
    const minimum = rt.config.shedding.retryAfterSeconds;
    if (refusal !== 'circuit-open') return minimum;
    return Math.max(minimum, Math.ceil(region.config.breaker.resetTimeoutMs / 1000));
  }

  record(
    region: Region,
    outcome: Outcome,
    status: number,
    priority: Priority,
    req: IncomingMessage,
    startedAt: number,
  ): void {
    region.metrics.outcome(outcome);
    if (!this.runtime.config.log.access) return;
    this.logger.info({
      region: region.name,
      status,
      outcome,
      priority,
      durationMs: Math.round((this.clock() - startedAt) * 100) / 100,
      method: req.method,
      path: req.url,
    });
  }
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}
