import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Outcome } from '../admin/admin-view.js';
import type { Priority } from '../admission/priority.js';
import { type BodyCapture, StaleCache } from '../cache/stale-cache.js';
import { refusalForUpstreamError, sendRefusal } from '../http/errors.js';
import { clientResponseHeaders, headerListToObject } from '../http/hop-by-hop.js';
import { isIdempotent } from '../http/methods.js';
import type { Region } from '../region.js';
import type { Route } from '../routing/route-table.js';
import type { BreakerCall } from './breaker.js';
import type { ExchangeEnvironment } from './exchange-environment.js';
import type { UpstreamHost, UpstreamSet } from './pools.js';
import { serveKeptCopy, staleKey } from './serve-stale.js';

const kExchange = Symbol('floodgate.exchange');
type TaggedResponse = ServerResponse & { [kExchange]?: Exchange };
type TaggedRequest = IncomingMessage & { [kExchange]?: Exchange };

const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
/** Failures before any connection existed: the upstream cannot have seen the request. */
const UNREACHED_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** HTTP 499: the client closed the connection before the answer (nginx's convention, for logs only). */
const CLIENT_CLOSED = 499;

/**
 * One request's trip upstream, as an undici dispatch handler. It owns the request's in-flight
 * slot and breaker call and gives each back exactly once (`finish`), whichever way the exchange
 * ends: response complete, upstream error, timeout, or the client going away. Before response
 * headers go out a failure becomes a typed error answer (or a stale copy); after, the only honest
 * move is to destroy the client's connection.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private hostIndex = -1;
  private host: UpstreamHost | undefined;
  private upstreamSet: UpstreamSet | undefined;
  private upstreamStartedAt = 0;
  private inflightAtStart = 0;
  private status = 0;
  private done = false;
  private clientGone = false;
  private capture: BodyCapture | undefined;
  private options: Dispatcher.DispatchOptions | undefined;
  private retried = false;
  /** The declared response length while no body byte has been sent; -1 once streaming. */
  private wholeBodyBytes = -1;
  private bodyLimit = Number.POSITIVE_INFINITY;
  private bodyBytes = 0;
  private bodyTooLarge = false;
  private capturedHeaders: string[] | undefined;

  constructor(
    private readonly env: ExchangeEnvironment,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly region: Region,
    private readonly route: Route,
    private readonly priority: Priority,
    private readonly path: string,
    private readonly startedAt: number,
    private breakerCall: BreakerCall | null,
    private readonly failoverFrom: string | undefined,
  ) {}

  /**
   * Sends the request to the region's least busy upstream. The caller has admitted it.
   * `bodyLimit` bounds a body of undeclared length (chunked): past it the upstream request is
   * aborted and the client told 413. A declared length was checked before admission.
   */
  dispatch(headers: string[], hasBody: boolean, bodyLimit?: number): void {
    if (bodyLimit !== undefined) {
      this.bodyLimit = bodyLimit;
      (this.req as TaggedRequest)[kExchange] = this;
      // Paused first: a data listener would otherwise start the flow before undici is listening,
      // and the chunks that came with the headers would reach only the counter. undici resumes it.
      this.req.pause();
      this.req.on('data', onRequestChunk);
    }
    // Held for the whole exchange: a reload may swap the region's upstream set meanwhile.
    const upstreams = this.region.upstreams;
    this.upstreamSet = upstreams;
    this.hostIndex = upstreams.pick();
    const host = upstreams.hosts[this.hostIndex]!;
    this.host = host;
    host.inflight++;
    this.inflightAtStart = this.region.admission.inflight.inflight;
    this.upstreamStartedAt = this.env.clock();
    (this.res as TaggedResponse)[kExchange] = this;
    this.res.on('close', onClientClose);
    this.res.on('drain', onClientDrain);
    const timeout = this.region.config.timeoutMs;
    this.options = {
      path: this.path,
      method: this.req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? this.req : null,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    };
    this.send();
  }

  private send(): void {
    try {
      this.host!.pool.dispatch(this.options!, this);
    } catch (err) {
      this.onResponseError(null, err as Error);
    }
  }

  /**
   * A keep-alive connection the upstream closed just as the request went out fails with a reset
   * before any response. Without a body the request is safe to send once more on a fresh
   * connection; with one it never is, because some of it may have been applied.
   */
  private retryAfterReset(err: Error): boolean {
    if (this.retried || this.options?.body !== null || !isIdempotent(this.req.method)) return false;
    // A reload may be closing the pool this exchange started on; a retry there could only fail.
    if (this.host!.pool.closed) return false;
    if (!RESET_CODES.has((err as { code?: string }).code ?? '')) return false;
    this.retried = true;
    this.controller = null;
    this.send();
    return true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('client closed the connection'));
    else if (this.bodyTooLarge) controller.abort(new Error('request body over listen.maxBodyBytes'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    // Informational answers (103 Early Hints and the like) are not the response; wait for it.
    if (this.done || statusCode < 200) return;
    const now = this.env.clock();
    const elapsedMs = now - this.upstreamStartedAt;
    this.region.metrics.upstreamDuration(elapsedMs / 1000);
    this.region.sampleLatency(elapsedMs, this.inflightAtStart);
    const failed = statusCode >= 500;
    this.settleUpstream(!failed);
    if (failed && this.serveStaleIfKept()) {
      controller.abort(new Error('answered from the stale cache'));
      return;
    }
    this.status = statusCode;
    const list = clientResponseHeaders(headers);
    if (
      this.route.staleTtlMs !== undefined &&
      this.req.method === 'GET' &&
      StaleCache.cacheable(statusCode, headers)
    ) {
      this.capture = this.env.staleCache.capture();
      this.capturedHeaders = list.slice();
    }
    list.push('x-floodgate-region', this.region.name);
    if (this.failoverFrom !== undefined) list.push('x-floodgate-failover-from', this.failoverFrom);
    const declared = headers['content-length'];
    this.wholeBodyBytes = typeof declared === 'string' ? Number(declared) : -1;
    this.res.writeHead(statusCode, statusMessage || undefined, list);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (this.capture !== undefined && !this.capture.push(chunk)) this.capture = undefined;
    if (chunk.length === this.wholeBodyBytes) {
      // The whole declared body in one chunk (most small answers): headers and body leave in one
      // write instead of a write and an end.
      this.res.end(chunk);
      return;
    }
    this.wholeBodyBytes = -1;
    if (!this.res.write(chunk)) {
      controller.pause();
      // undici's body timeout sleeps while paused: a client that stops reading must not hold the
      // slot and the upstream connection forever. With no listener, Node destroys the socket.
      this.res.setTimeout(this.region.config.timeoutMs);
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    if (!this.res.writableEnded) this.res.end();
    if (this.capture !== undefined) this.keepStaleCopy(this.capture);
    this.finish(this.answeredOutcome(), this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.done) return;
    if (this.clientGone) {
      // The upstream's answer was under way: the client leaving is not the gateway's error.
      this.settleBreakerNeutral();
      this.finish(this.res.headersSent ? this.answeredOutcome() : 'error', CLIENT_CLOSED);
      return;
    }
    if (this.bodyTooLarge && !this.res.headersSent) {
      // The rest of the body is never read, so the connection cannot carry another request.
      this.res.shouldKeepAlive = false;
      sendRefusal(this.res, 'body-too-large', this.region.refusals, 0);
      this.finish('error', this.res.statusCode);
      return;
    }
    if (!this.res.headersSent && this.retryAfterReset(err)) return;
    const refusal = refusalForUpstreamError(err);
    if (refusal === 'bad-request') {
      // Nothing reached the upstream: neither the breaker nor outlier ejection may count it.
      this.settleBreakerNeutral();
      if (this.res.headersSent) this.res.destroy(err);
      else sendRefusal(this.res, refusal, this.region.refusals, 0);
      this.finish('error', this.res.headersSent ? this.status : 400);
      return;
    }
    // A body cut off for its size is the client's doing, not the upstream's.
    if (this.bodyTooLarge) this.settleBreakerNeutral();
    else this.settleUpstream(false);
    if (this.res.headersSent) {
      // The body was cut short: ending the response would tell the client it is complete.
      this.res.destroy(err);
      this.finish('error', this.status);
      return;
    }
    if (this.failOverUnreached(err)) return;
    if (this.serveStaleIfKept()) return;
    sendRefusal(this.res, refusal, this.region.refusals, 0);
    this.finish('error', this.res.statusCode);
  }

  /**
   * A connection that could not be made means no byte reached this region: an idempotent,
   * bodiless request may go to a failover region right away instead of failing while the breaker
   * is still counting. Once handed over, this exchange gives its resources back and records nothing.
   */
  private failOverUnreached(err: Error): boolean {
    if (this.failoverFrom !== undefined || this.options?.body !== null) return false;
    if (!isIdempotent(this.req.method) || !UNREACHED_CODES.has((err as { code?: string }).code ?? '')) {
      return false;
    }
    return this.env.failOver(
      this.req,
      this.res,
      this.region,
      this.route,
      this.priority,
      this.path,
      this.startedAt,
      () => this.release(),
    );
  }

  countBody(bytes: number): void {
    this.bodyBytes += bytes;
    if (this.bodyBytes <= this.bodyLimit || this.bodyTooLarge) return;
    this.bodyTooLarge = true;
    this.req.removeListener('data', onRequestChunk);
    this.controller?.abort(new Error('request body over listen.maxBodyBytes'));
  }

  /** The client went away before the exchange finished: stop the upstream request. */
  clientClosed(): void {
    if (this.done) return;
    this.clientGone = true;
    if (this.controller !== null) this.controller.abort(new Error('client closed the connection'));
  }

  resumeUpstream(): void {
    this.res.setTimeout(0);
    if (this.controller?.paused) this.controller.resume();
  }

  private serveStaleIfKept(): boolean {
    if (this.route.staleTtlMs === undefined || this.req.method !== 'GET' || this.res.headersSent)
      return false;
    const home = this.failoverFrom ?? this.region.name;
    const status = serveKeptCopy(
      this.res,
      this.env.staleCache,
      home,
      this.region.name,
      this.path,
      this.env.clock(),
    );
    if (status === undefined) return false;
    this.finish('stale', status);
    return true;
  }

  private keepStaleCopy(capture: BodyCapture): void {
    const body = capture.finish();
    if (body === undefined || this.capturedHeaders === undefined) return;
    this.env.staleCache.set(
      staleKey(this.failoverFrom ?? this.region.name, this.path),
      {
        status: this.status,
        headers: headerListToObject(this.capturedHeaders),
        body,
        storedAt: this.env.clock(),
      },
      this.route.staleTtlMs!,
    );
  }

  private answeredOutcome(): Outcome {
    return this.failoverFrom === undefined ? 'forwarded' : 'failover';
  }

  private settleUpstream(ok: boolean): void {
    const ejection = this.upstreamSet?.ejection;
    if (ok) ejection?.success(this.hostIndex);
    else ejection?.failure(this.hostIndex);
    const call = this.breakerCall;
    if (call === null) return;
    this.breakerCall = null;
    if (ok) call.succeed();
    else call.fail();
  }

  private settleBreakerNeutral(): void {
    const call = this.breakerCall;
    if (call === null) return;
    this.breakerCall = null;
    call.cancel();
  }

  private finish(outcome: Outcome, status: number): void {
    this.release();
    this.env.record(this.region, outcome, status, this.priority, this.req, this.startedAt);
  }

  /** Gives back the slot, the host's count and the breaker call, exactly once. */
  private release(): void {
    this.done = true;
    this.settleBreakerNeutral();
    if (this.host !== undefined) this.host.inflight--;
    this.region.admission.release();
    this.res.removeListener('close', onClientClose);
    this.res.removeListener('drain', onClientDrain);
  }
}

// Shared listeners (no closure per request): `this` is the response the exchange is tagged on.
function onClientClose(this: TaggedResponse): void {
  const exchange = this[kExchange];
  if (exchange !== undefined && !this.writableFinished) exchange.clientClosed();
}

function onRequestChunk(this: TaggedRequest, chunk: Buffer): void {
  this[kExchange]?.countBody(chunk.length);
}

function onClientDrain(this: TaggedResponse): void {
  this[kExchange]?.resumeUpstream();
}
