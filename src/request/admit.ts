import type { Logger } from 'pino';
import type { ShedReason } from '../domain.js';
import type { Refusal } from '../http/errors.js';
import { logEvent } from '../observability/logger.js';
import type { Region } from '../region.js';
import type { RequestContext } from './context.js';
import { Permit } from './permit.js';

/**
 * The admission step: the client's own limit, then the home region's breaker and admission core.
 * Returns a permit for the home region, or the refusal. In shadow mode admission only counts and
 * logs what it would have shed (`would-shed`); the breaker acts in both modes. Every refusal is
 * counted here, once, against the home region, whatever answers the request in the end. The
 * permit's breaker call is taken when the request leaves (`beginCall`), after any wait for its turn.
 */
export function admit(ctx: RequestContext, logger: Logger): Permit | Refusal {
  const client = clientRefusal(ctx, logger);
  if (client !== undefined) return client;
  const region = ctx.home;
  if (!region.breaker.allowsRequest) {
    region.admission.recordShed();
    return counted(ctx, 'circuit-open');
  }
  const shed = region.admission.admit(ctx.priority, ctx.runtime.enforce);
  if (shed !== null) {
    if (ctx.runtime.enforce) return counted(ctx, shed);
    wouldShed(ctx, shed, logger);
  }
  return new Permit(region);
}

/**
 * Takes the permit's breaker call as the request leaves. False when its region's breaker no longer
 * lets it go (it opened while the request waited for its turn, or another request took the
 * half-open probe): the permit is settled, and a home region's refusal counted like one at
 * admission.
 */
export function beginCall(ctx: RequestContext, permit: Permit): boolean {
  if (permit.beginCall()) return true;
  permit.settle('neutral');
  if (permit.region === ctx.home) counted(ctx, 'circuit-open');
  return false;
}

/**
 * A permit in a failover region, taken from its spare capacity only, or undefined when it has
 * none to spare or its breaker is not closed.
 */
export function admitFailover(target: Region): Permit | undefined {
  if (!target.open || target.breaker.state !== 'closed' || !target.admission.admitSpillover())
    return undefined;
  return new Permit(target);
}

function clientRefusal(ctx: RequestContext, logger: Logger): Refusal | undefined {
  const limiter = ctx.runtime.clientLimiter;
  if (limiter === undefined) return undefined;
  const key = clientKey(ctx);
  if (limiter.tryTake(key)) return undefined;
  if (!ctx.runtime.enforce) {
    wouldShed(ctx, 'client-rate', logger);
    return undefined;
  }
  ctx.retryAfterSeconds = limiter.retryAfterSeconds(key);
  return counted(ctx, 'client-rate');
}

function clientKey(ctx: RequestContext): string {
  const header = ctx.runtime.clientKeyHeader;
  const named = header === undefined ? undefined : ctx.req.headers[header];
  return typeof named === 'string' && named !== '' ? `h:${named}` : `ip:${ctx.client}`;
}

function counted(ctx: RequestContext, refusal: ShedReason): Refusal {
  ctx.home.metrics.shed(refusal, ctx.priority, false);
  return refusal;
}

function wouldShed(ctx: RequestContext, reason: ShedReason, logger: Logger): void {
  ctx.shedInShadow = true;
  ctx.home.metrics.shed(reason, ctx.priority, true);
  logEvent(logger, 'would-shed', { region: ctx.home.name, reason, priority: ctx.priority });
}
