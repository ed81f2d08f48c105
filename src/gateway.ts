import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Clock } from './admission/clock.js';
import type { Outcome } from './domain.js';
import { REFUSALS, type Refusal, sendRefusal, writeRefusalToSocket } from './http/errors.js';
import { prepareUpgradeHeaders } from './http/hop-by-hop.js';
import type { PublicRequest, PublicResponse } from './http/http2-request.js';
import { answerAsFinalRecipient } from './http/max-forwards.js';
import { isIdempotent } from './http/methods.js';
import type { BadRequestSink } from './http/public-server.js';
import { AccessLog } from './observability/access-log.js';
import type { StaleReason } from './observability/metrics.js';
import { admit, beginCall } from './request/admit.js';
import { classify, forwardedValues, hasBody } from './request/classify.js';
import { RequestContext } from './request/context.js';
import { FailoverWait, failoverPermitNow } from './request/failover-wait.js';
import { after, hold, MIN_WAIT_MS } from './request/hold.js';
import type { Permit } from './request/permit.js';
import type { Runtime } from './runtime.js';
import { Exchange } from './upstream/forward.js';
import type { ForwardListener, ForwardResult } from './upstream/forward-result.js';
import { serveKeptCopy } from './upstream/serve-stale.js';
import type { WebSocketTunnels } from './upstream/websocket.js';

/**
 * The request pipeline, one step per module, in order:
 *
 *   classify (request/classify.ts)  request id, client, path, route, priority; malformed -> 4xx
 *   admit    (request/admit.ts)     client limit, home breaker, admission core -> a permit
 *   forward  (upstream/forward.ts)  one trip upstream at the region's next turn (send-pacer.ts),
 *                                   reported back as an outcome
 *   settle   (here)                 on refusal or failure: serve a kept copy, fail over (a request
 *                                   whose trip failed may wait a moment for spare capacity), or refuse;
 *                                   then one access line and the outcome counters
 *
 * Waits (for a turn, for spare capacity) are request/hold.ts's: a client that leaves ends them at
 * once, gives back what the request held, and is logged as client-closed.
 *
 * HTTP/1.1 requests and WebSocket upgrades share classify and admit. Every decision after the
 * admission step is taken here, so control never bounces between this file and the exchange.
 */
export class Gateway implements ForwardListener {
  runtime: Runtime;
  private readonly access: AccessLog;
  /** Set once a shutdown's grace period has run out and its connections are being cut. */
  private cutting = false;

  constructor(
    runtime: Runtime,
    readonly clock: Clock,
    private readonly logger: Logger,
    private readonly tunnels: WebSocketTunnels,
    private readonly badRequests: BadRequestSink['metrics'],
  ) {
    this.runtime = runtime;
    this.access = new AccessLog(logger);
  }

  /** The public server's request listener, for HTTP/1.1 requests and HTTP/2 streams alike. */
  readonly handleRequest = (req: PublicRequest, res: PublicResponse): void => {
    const ctx = new RequestContext(this.runtime, req, res, req.socket, this.clock);
    const problem = classify(ctx);
    if (problem !== undefined) return this.refuse(ctx, problem);
    if (ctx.maxForwards === 0 || ctx.path === '*') return this.answerHere(ctx);
    const permit = admit(ctx, this.logger);
    if (typeof permit === 'string') return this.whenRefused(ctx, permit);
    this.send(ctx, permit);
  };

  /**
   * Admits a WebSocket handshake like any other request (the public server's `upgrade` listener,
   * http/upgrades.ts, has listed its socket for shutdown and serves every other upgrade as an
   * ordinary request).
   */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const ctx = new RequestContext(this.runtime, req, undefined, socket, this.clock);
    const problem = classify(ctx);
    if (problem !== undefined) return this.refuse(ctx, problem);
    const permit = admit(ctx, this.logger);
    if (typeof permit === 'string') return this.refuse(ctx, permit);
    // Handshakes leave paced like requests: a reconnect storm after an outage reaches the backends
    // at the refill pace, not in one instant.
    ctx.upgradeHead = head;
    this.send(ctx, permit);
  };

  /**
   * An HTTP/1.1 CONNECT, answered on its socket (the public server's `connect` listener,
   * http/upgrades.ts, has listed it for shutdown). Classification refuses every CONNECT.
   */
  readonly handleConnect = (req: IncomingMessage, socket: Duplex): void => {
    const ctx = new RequestContext(this.runtime, req, undefined, socket, this.clock);
    this.refuse(ctx, classify(ctx) ?? 'method-not-implemented');
  };

  /** Acts on how a trip upstream (or a tunnel's handshake) ended. */
  forwarded(ctx: RequestContext, result: ForwardResult): void {
    switch (result) {
      case 'answered':
        return this.record(ctx, ctx.region === ctx.home ? 'forwarded' : 'failover');
      case 'cut':
        return this.record(ctx, 'error');
      case 'refused':
        return this.refuse(ctx, ctx.reason as Refusal);
      case 'unreached':
        // No byte reached that region: an idempotent request may go elsewhere before the breaker
        // opens. A kept copy answers first, leaving the failover region's spare capacity to
        // requests that have no copy.
        if (serveKeptCopy(ctx)) return this.record(ctx, 'stale');
        if (ctx.region === ctx.home && isIdempotent(ctx.req.method)) return this.failOver(ctx);
        return this.refuseFailure(ctx);
      case 'failed':
        // The connection broke before any answer (a backend that died with the request on it, after
        // the one retry on a fresh connection), or the answer could not be passed on (a transfer
        // coding the gateway cannot frame, forward.ts): nothing reached the client. Without a body
        // the request is safe to send again, so it may go elsewhere too; a timeout may not (the
        // region is slow, not gone, and the client has already waited), nor a 5xx (the upstream
        // answered, and a 5xx is an answer to pass on).
        if (serveKeptCopy(ctx)) return this.record(ctx, 'stale');
        if (ctx.reason === 'upstream-unreachable' && this.replayable(ctx)) return this.failOver(ctx);
        return this.refuseFailure(ctx);
    }
  }

  /**
   * A request from its home region that may be sent again: idempotent, with no body, and not a
   * WebSocket handshake (a tunnel is only ever opened to the region that admitted it).
   */
  private replayable(ctx: RequestContext): boolean {
    return ctx.res !== undefined && ctx.region === ctx.home && isIdempotent(ctx.req.method) && !hasBody(ctx);
  }

  /**
   * Starts the trip upstream at the permit region's next turn (see admission/send-pacer.ts): the
   * region's own requests book theirs, failover takes only turns they leave free. A request shadow
   * mode lets through against its decision goes at once: enforcement would not have sent it, so it
   * must neither wait (shadow mode is not to be felt by clients) nor push admitted ones back.
   */
  private send(ctx: RequestContext, permit: Permit): void {
    const region = permit.region;
    const own = ctx.region === ctx.home;
    if (own && ctx.shedInShadow) return this.leave(ctx, permit);
    const wait = own ? region.bookTurn() : 0;
    // Most own requests find their turn has come: they leave with no hold set up.
    if (own && wait < MIN_WAIT_MS) return this.leave(ctx, permit);
    region.awaitTurn();
    hold(ctx, own ? after(wait) : region.spareTurn(this.clock()), (how) => {
      region.turnCame();
      if (how !== 'gone') return this.leave(ctx, permit);
      // Its slot and its turn go back at once, not when the turn would have come.
      if (own) region.giveTurnBack();
      permit.settle('neutral');
      this.clientClosed(ctx);
    });
  }

  /** A request whose turn has come goes upstream, unless its region's breaker stopped it meanwhile. */
  private leave(ctx: RequestContext, permit: Permit): void {
    const now = this.clock();
    // Logged, so that replay can tell the upstream's time from the waits this config imposed.
    if (now - ctx.startedAt >= MIN_WAIT_MS) ctx.waitMs = now - ctx.startedAt;
    const head = ctx.upgradeHead;
    if (head !== undefined) {
      // A tunnel is only ever opened to the region that admitted it: no failover, no kept copy.
      if (!beginCall(ctx, permit)) return this.refuse(ctx, 'circuit-open');
      prepareUpgradeHeaders(ctx.req.headers, forwardedValues(ctx));
      return this.tunnels.tunnel(ctx, permit, head, this);
    }
    if (beginCall(ctx, permit)) return new Exchange(ctx, permit, this).start(now);
    // The region's breaker opened while the request waited: handled like a refusal at admission
    // at home, like a failover region with no capacity elsewhere.
    if (ctx.region === ctx.home) return this.whenRefused(ctx, 'circuit-open');
    ctx.region = ctx.home;
    this.refuseFailure(ctx);
  }

  private clientClosed(ctx: RequestContext): void {
    ctx.markGone();
    this.record(ctx, 'error');
  }

  /** A request its home region refused may still be answered by a failover region or a kept copy. */
  private whenRefused(ctx: RequestContext, refusal: Refusal): void {
    ctx.reason = refusal;
    if (refusal === 'client-rate') return this.refuse(ctx, refusal);
    // A kept copy first: another region's spare capacity goes to requests that have none.
    if (serveKeptCopy(ctx)) return this.record(ctx, 'stale');
    // A surge is the home region's own policy: its requests are not pushed onto another region.
    // No waiting for spare capacity here: this is the overload path, where shedding stays cheap.
    const permit = refusal !== 'surge' && isIdempotent(ctx.req.method) ? failoverPermitNow(ctx) : undefined;
    if (permit === undefined) return this.refuse(ctx, refusal);
    ctx.region = permit.region;
    this.send(ctx, permit);
  }

  /** Answers an upstream failure once no kept copy or failover region could. */
  private refuseFailure(ctx: RequestContext): void {
    // A 5xx is only withheld when a kept copy exists; should it vanish meanwhile, that is a bad gateway.
    this.refuse(ctx, ctx.reason === 'upstream-5xx' ? 'upstream-unreachable' : (ctx.reason as Refusal));
  }

  /**
   * A request whose trip upstream failed goes to the first failover region whose breaker is closed
   * and that has capacity to spare, waiting a moment for some if none has now
   * (request/failover-wait.ts); refused as a failure when none does.
   */
  private failOver(ctx: RequestContext): void {
    const wait = new FailoverWait(ctx, this.clock);
    hold(ctx, wait.check, (how) => {
      wait.end();
      if (how === 'gone') return this.clientClosed(ctx);
      if (how === 'expired') return this.refuseFailure(ctx);
      ctx.region = wait.permit!.region;
      this.send(ctx, wait.permit!);
    });
  }

  /** Answers a refusal on the response, or on the raw socket of an upgrade. */
  private refuse(ctx: RequestContext, refusal: Refusal): void {
    ctx.reason = refusal;
    const spec = REFUSALS[refusal];
    const answer = {
      refusal,
      bodies: ctx.region.refusals,
      retryAfterSeconds: spec.retryAfter ? this.retryAfter(ctx, refusal) : 0,
      requestId: ctx.requestId,
    };
    // Malformed or oversized input: counted by reason; the answer also closes the connection.
    if (spec.badRequest !== undefined) this.badRequests.countBadRequest(spec.badRequest);
    if (ctx.res === undefined) {
      // What else the client sends is read to nowhere: left unread, it would reset the connection
      // when the socket closes, and the client could lose the answer.
      ctx.socket.resume();
      writeRefusalToSocket(ctx.socket, answer);
    } else sendRefusal(ctx.res, answer);
    ctx.status = spec.status;
    // A HEAD answer carries the headers alone (RFC 9110 §9.3.2).
    ctx.bytes = ctx.req.method === 'HEAD' ? 0 : answer.bodies.size(refusal);
    this.record(ctx, spec.shed === undefined ? 'error' : 'shed');
  }

  /** The request may go no further (RFC 9110 §7.6.2), or is `OPTIONS *`: the gateway answers as its final recipient. */
  private answerHere(ctx: RequestContext): void {
    ctx.bytes = answerAsFinalRecipient(ctx);
    ctx.status = 200;
    this.record(ctx, 'local');
  }

  private retryAfter(ctx: RequestContext, refusal: Refusal): number {
    if (ctx.retryAfterSeconds > 0) return ctx.retryAfterSeconds;
    const region = ctx.home;
    if (refusal === 'rate') return region.admission.retryAfterSeconds(ctx.priority);
    const minimum = ctx.runtime.config.shedding.retryAfterSeconds;
    if (refusal !== 'circuit-open') return minimum;
    return Math.max(minimum, Math.ceil(region.config.breaker.resetTimeoutMs / 1000));
  }

  /**
   * From now on a request whose client seems to leave was cut by the shutdown (lifecycle/drain.ts):
   * the drain destroys the connections, and the request path sees only their closing.
   */
  readonly cutByShutdown = (): void => {
    this.cutting = true;
  };

  /** A request the shutdown cut is the gateway's error; its status is what the client got, 0 for nothing. */
  private cutAtShutdown(ctx: RequestContext): Outcome {
    ctx.reason = 'shutdown';
    const res = ctx.res;
    ctx.status = res?.headersSent ? res.statusCode : 0;
    return 'error';
  }

  /** The last step of every request: outcome counters and one access line. */
  private record(ctx: RequestContext, ended: Outcome): void {
    const outcome = this.cutting && ctx.reason === 'client-closed' ? this.cutAtShutdown(ctx) : ended;
    const elapsedMs = this.clock() - ctx.startedAt;
    const metrics = ctx.region.metrics;
    metrics.requestDone(outcome, elapsedMs / 1000);
    // On the stale paths the reason is always why the fresh answer could not be had.
    if (outcome === 'stale') metrics.staleServed(ctx.reason as StaleReason);
    if (this.access.enabled(ctx.runtime.config.log.access)) this.access.write(ctx, outcome, elapsedMs);
  }
}
