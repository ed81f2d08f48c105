import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { type Dispatcher, errors } from 'undici';
import type { Capture } from '../cache/stale-cache.js';
import { type Refusal, refusalForUpstreamError } from '../http/errors.js';
import { sendContinue } from '../http/expect-continue.js';
import { upstreamRequestHeaders } from '../http/hop-by-hop.js';
import {
  closeAfterAnswer,
  cutAnswer,
  http1HeaderList,
  upstreamBody,
  writeHeadList,
} from '../http/http2-request.js';
import { isIdempotent } from '../http/methods.js';
import { forwardedValues, hasBody } from '../request/classify.js';
import type { RequestContext } from '../request/context.js';
import type { Permit, Verdict } from '../request/permit.js';
import { clientHeadList, endsWithHead, forwardInformational, undecodedContent } from './answer-head.js';
import { holdBack, mayPause } from './client-pace.js';
import {
  onClientAborted,
  onClientClose,
  onClientDrain,
  onRequestChunk,
  tagExchange,
} from './exchange-listeners.js';
import {
  type ForwardListener,
  type ForwardResult,
  isConnectionReset,
  neverConnected,
} from './forward-result.js';
import { HeadersDeadline, type TimedTrip } from './headers-deadline.js';
import { captureFor, forgetAfterUnsafe, hasKeptCopy } from './serve-stale.js';
import { endedByReset } from './upstream-sockets.js';

/**
 * One request's trip to one upstream, as an undici dispatch handler. It holds the request's permit
 * and settles it exactly once, when the trip ends, then reports how it ended; what happens next
 * (failover, a stale copy, an error answer) is the pipeline's decision. Before response headers go
 * out nothing is written to the client here; after, a failure can only destroy the connection.
 */
export class Exchange implements Dispatcher.DispatchHandler, TimedTrip {
  /** Held until the trip ends; undefined afterwards, when late callbacks from undici are ignored. */
  private permit: Permit | undefined;
  private controller: Dispatcher.DispatchController | null = null;
  private options!: Dispatcher.DispatchOptions;
  private verdict: Verdict = 'neutral';
  private upstreamStartedAt = 0;
  private inflightAtStart = 0;
  private retried = false;
  private clientGone = false;
  private capture: Capture | undefined;
  /** The declared response length while no body byte has been sent; -1 once streaming. */
  private wholeBodyBytes = -1;
  private bodyLimit = Number.POSITIVE_INFINITY;
  private bodyBytes = 0;
  /** Whether undici may be paused on the answer (client-pace.ts). */
  private pausable = true;
  /** The client's doing that ended the trip: a body over the limit, or an upload that stopped. */
  private clientFault: 'body-too-large' | 'request-timeout' | undefined;
  private deadline: HeadersDeadline | undefined;

  constructor(
    private readonly ctx: RequestContext,
    permit: Permit,
    private readonly listener: ForwardListener,
  ) {
    this.permit = permit;
  }

  /**
   * Sends the request to the permit region's least busy upstream. A body of undeclared length
   * (chunked) is counted as it streams: past `listen.maxBodyBytes` the upstream request is aborted
   * and the client told 413. A declared length was checked before admission. `leftAt`: the clock
   * when the request left its turn, from which its upstream time counts.
   */
  start(leftAt: number): void {
    const { ctx } = this;
    const { req, res } = ctx;
    const region = this.permit!.region;
    const body = hasBody(ctx);
    tagExchange(req, this);
    if (body && req.headers['content-length'] === undefined) {
      this.bodyLimit = ctx.runtime.maxBodyBytes;
      // Paused first: a data listener would otherwise start the flow before undici is listening,
      // and the chunks that came with the headers would reach only the counter. undici resumes it.
      req.pause();
      req.on('data', onRequestChunk);
    }
    // `aborted` says the client left where the response's close does not: for a response queued
    // behind another on HTTP/1.1, and before Node's HTTP/2 layer ends the body of a closed stream
    // (a client gone mid-upload must not reach the upstream as a whole, shorter request).
    req.once('aborted', onClientAborted);
    if (req.aborted) this.clientGone = true;
    this.permit!.pickHost();
    this.inflightAtStart = region.admission.inflight.inflight;
    this.upstreamStartedAt = leftAt;
    tagExchange(res!, this);
    res!.on('close', onClientClose);
    res!.on('drain', onClientDrain);
    const timeout = region.config.timeoutMs;
    sendContinue(res!);
    // Before the body is piped (HTTP/2): the deadline pauses the request, which the pipe resumes.
    this.deadline = new HeadersDeadline(this, timeout);
    this.deadline.start(body ? req : undefined);
    this.options = {
      path: ctx.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: upstreamRequestHeaders(
        ctx.http2 ? http1HeaderList(req as Http2ServerRequest) : req.rawHeaders,
        req.headers.connection,
        forwardedValues(ctx),
      ),
      body: body ? upstreamBody(req, res!) : null,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    };
    this.send();
  }

  private send(): void {
    try {
      this.permit!.host!.pool.dispatch(this.options, this);
    } catch (err) {
      this.onResponseError(null, err as Error);
    }
  }

  /**
   * A keep-alive connection the upstream closed just as the request went out fails with a reset
   * before any response. Only a request without a body is safe to send again on a fresh one.
   */
  private retryAfterReset(err: Error): boolean {
    if (this.retried || this.options.body !== null || !isIdempotent(this.ctx.req.method)) return false;
    // A reload may be closing the pool this exchange started on; a retry there could only fail.
    if (this.permit!.host!.pool.closed) return false;
    if (!isConnectionReset(err)) return false;
    this.retried = true;
    this.capture?.abandon();
    this.controller = null;
    this.send();
    return true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Ended while waiting for its connection (timed out, or the client left). Thrown, not aborted:
    // an abort destroys the new connection too, and were all to time out so, none would be kept.
    if (this.permit === undefined) throw new errors.ConnectTimeoutError();
    if (this.clientGone) controller.abort(new Error('client closed the connection'));
    else if (this.clientFault !== undefined) controller.abort(new Error(`client fault: ${this.clientFault}`));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const permit = this.permit;
    if (permit === undefined) return;
    const { ctx } = this;
    // Not the answer yet, which is still to come.
    if (statusCode < 200) return forwardInformational(ctx, statusCode, headers);
    this.deadline?.stop();
    if (undecodedContent(ctx.req.method, statusCode, headers))
      return this.dropAnswer(controller, 'upstream-unreachable');
    const region = permit.region;
    const elapsedMs = ctx.clock() - this.upstreamStartedAt;
    region.metrics.upstreamDuration(elapsedMs / 1000);
    region.metrics.upstreamResponse(statusCode);
    region.sampleLatency(elapsedMs, this.inflightAtStart);
    ctx.status = statusCode;
    ctx.upstream = permit.host!.url;
    this.verdict = statusCode >= 500 ? 'failed' : 'ok';
    if (statusCode >= 500 && hasKeptCopy(ctx)) return this.dropAnswer(controller, 'upstream-5xx');
    forgetAfterUnsafe(ctx, statusCode, headers);
    this.capture = captureFor(ctx, statusCode, headers);
    const declared = headers['content-length'];
    this.wholeBodyBytes = typeof declared === 'string' ? Number(declared) : -1;
    this.pausable = mayPause(headers);
    const list = clientHeadList(ctx, region.name, statusCode, headers);
    writeHeadList(ctx.res!, statusCode, list, statusMessage || undefined);
    if (!endsWithHead(statusCode)) return;
    // The answer is whole: undici 7 holds a 304's content-length against the body it cannot have
    // (it excuses HEAD only) and would fail the exchange after this head went out.
    ctx.res!.end();
    this.end('answered');
  }

  /** Nothing of the upstream's answer reaches the client, and it counts as failed: the pipeline answers. */
  private dropAnswer(controller: Dispatcher.DispatchController, reason: RequestContext['reason']): void {
    this.verdict = 'failed';
    this.ctx.reason = reason;
    // Ended first: undici calls onResponseError from inside abort(), which must find it over.
    this.end('failed');
    controller.abort(new Error('upstream answer not passed on'));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.permit === undefined) return;
    const res = this.ctx.res!;
    this.ctx.bytes += chunk.length;
    if (this.capture !== undefined && !this.capture.push(chunk)) this.capture = undefined;
    if (chunk.length === this.wholeBodyBytes) {
      // The whole declared body in one chunk (most small answers): one write, not a write and an end.
      res.end(chunk);
      return;
    }
    this.wholeBodyBytes = -1;
    // The same call on both protocols; the union of their overloads is not callable as such.
    if ((res as ServerResponse).write(chunk)) return;
    if (holdBack(this.ctx, controller, this.pausable, this.permit.region.config.timeoutMs)) return;
    // A client too slow for an answer that cannot be paused (client-pace.ts): it has left, in effect.
    cutAnswer(res, new Error('client too slow for an answer that cannot be paused'));
    this.clientClosed();
  }

  onResponseEnd(): void {
    if (this.permit === undefined) return;
    // Not the body's end but a reset under it, which undici hides (upstream-sockets.ts): cut short.
    if (endedByReset()) return this.onResponseError(null, new errors.SocketError('other side closed'));
    const res = this.ctx.res!;
    if (!res.writableEnded) res.end();
    this.capture?.finish();
    this.end('answered');
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.permit === undefined) return;
    const { ctx } = this;
    const res = ctx.res!;
    if (this.clientGone) {
      // The upstream's answer was under way: the client leaving is not the upstream's failure.
      this.verdict = 'neutral';
      ctx.markGone();
      this.end(res.headersSent ? 'answered' : 'cut');
      return;
    }
    if (!res.headersSent && this.retryAfterReset(err)) return;
    const fault =
      this.clientFault ?? (refusalForUpstreamError(err) === 'bad-request' ? 'bad-request' : undefined);
    if (fault !== undefined) {
      // The client's doing (clientFault, or a request undici will not send): not the upstream's.
      this.verdict = 'neutral';
      return this.refuseOrCut(fault, err);
    }
    this.verdict = 'failed';
    ctx.reason = refusalForUpstreamError(err);
    if (res.headersSent) {
      // The body was cut short: ending the response would tell the client it is complete.
      cutAnswer(res, err);
      this.end('cut');
      return;
    }
    const unreached = this.options.body === null && neverConnected(err);
    this.end(unreached ? 'unreached' : 'failed');
  }

  private refuseOrCut(refusal: Refusal, err: Error): void {
    const res = this.ctx.res!;
    this.ctx.reason = refusal;
    if (res.headersSent) {
      cutAnswer(res, err);
      this.end('cut');
      return;
    }
    // The rest of the body is never read, so the connection cannot carry another request.
    if (refusal === 'body-too-large' || refusal === 'request-timeout') closeAfterAnswer(res);
    this.end('refused');
  }

  countBody(bytes: number): void {
    this.bodyBytes += bytes;
    if (this.bodyBytes <= this.bodyLimit || this.clientFault !== undefined) return;
    this.clientFault = 'body-too-large';
    this.ctx.req.removeListener('data', onRequestChunk);
    this.controller?.abort(new Error('request body over listen.maxBodyBytes'));
  }

  /**
   * No final answer's headers within timeoutMs. Without a connection yet, the upstream cannot have
   * seen the request: a connect timeout, as undici's own would have been, so a GET may fail over.
   * With one, an upload stopped short by its client is the client's (408), not the region's (504).
   */
  headersTimedOut(): void {
    if (this.permit === undefined) return;
    if (this.controller === null) return this.onResponseError(null, new errors.ConnectTimeoutError());
    if (this.deadline!.waitingOnClient()) this.clientFault = 'request-timeout';
    this.controller.abort(new errors.HeadersTimeoutError());
  }

  /** The client went away before the exchange finished: stop the upstream request. */
  clientClosed(): void {
    if (this.permit === undefined) return;
    this.clientGone = true;
    if (this.controller !== null) this.controller.abort(new Error('client closed the connection'));
  }

  resumeUpstream(): void {
    this.ctx.res!.setTimeout(0);
    if (this.controller?.paused) this.controller.resume();
  }

  private end(result: ForwardResult): void {
    const permit = this.permit!;
    this.permit = undefined;
    this.deadline?.stop();
    // Every way out but a whole answer (which finished it first) lets go of the body copied so far.
    this.capture?.abandon();
    permit.settle(this.verdict);
    const res = this.ctx.res!;
    res.removeListener('close', onClientClose);
    res.removeListener('drain', onClientDrain);
    this.listener.forwarded(this.ctx, result);
  }
}
