import type { Clock } from '../admission/clock.js';
import type { Region } from '../region.js';
import { admitFailover } from './admit.js';
import type { RequestContext } from './context.js';
import type { HoldCheck } from './hold.js';
import type { Permit } from './permit.js';

/** How often a request waiting for spare capacity in a failover region asks again. */
const RETRY_MS = 10;

/**
 * A permit in the first of the home region's failover regions with capacity to spare now, or
 * undefined. What a request its home region refused gets: no waiting, nothing allocated.
 */
export function failoverPermitNow(ctx: RequestContext): Permit | undefined {
  const regions = ctx.runtime.regions;
  for (const name of ctx.home.config.failover) {
    const target = regions.get(name);
    const permit = target === undefined ? undefined : admitFailover(target);
    if (permit !== undefined) return permit;
  }
  return undefined;
}

/**
 * A patient request's try for a permit in one of its home region's failover regions, in order (see
 * gateway.ts): `check` is asked by request/hold.ts until `permit` is set or it gives up.
 *
 * Only a request whose trip upstream already failed (it was in flight, or being sent, when its
 * home region's backends died) waits for spare capacity that is not there now: all of
 * those fail over in the same instant, and a slot or a spare token comes back within moments (a
 * request there finishing, the refill). It waits up to the first open region's `paceMaxWaitMs`,
 * polling every 10 ms and holding nothing, and only while fewer such requests wait on that region
 * than the slots failover may hold there at once; the rest are answered at once. A request its home
 * region refused ('rate', 'concurrency', 'circuit-open') takes `failoverPermitNow` instead and is
 * answered at once when no failover region has capacity: that is the overload path, where
 * shedding must stay cheap and fast.
 */
export class FailoverWait {
  permit: Permit | undefined;
  private readonly targets: Region[] = [];
  private readonly since: number;
  /** The region this request holds a waiting place on, once it waits. */
  private place: Region | undefined;

  constructor(
    ctx: RequestContext,
    private readonly clock: Clock,
  ) {
    // Resolved once, as the wait begins: a reload meanwhile gives the home region (kept across it)
    // its new failover list, and this request must still finish on the config it started with.
    for (const name of ctx.home.config.failover) {
      const target = ctx.runtime.regions.get(name);
      if (target !== undefined) this.targets.push(target);
    }
    this.since = clock();
  }

  readonly check: HoldCheck = () => {
    for (const target of this.targets) {
      this.permit = admitFailover(target);
      if (this.permit !== undefined) return 0;
    }
    const open = this.targets.find((t) => t.open && t.breaker.state === 'closed');
    if (open === undefined) return Number.POSITIVE_INFINITY;
    const left = this.since + open.pacer.maxWaitMs - this.clock();
    if (left <= 0 || !this.waitOn(open)) return Number.POSITIVE_INFINITY;
    return Math.max(1, Math.min(RETRY_MS, left));
  };

  /** Gives the waiting place back, once the wait has ended however it ended. */
  end(): void {
    this.place?.endFailoverWait();
    this.place = undefined;
  }

  private waitOn(region: Region): boolean {
    if (this.place !== undefined) return true;
    if (region.failoverWaiting >= region.admission.slotLimit('low')) return false;
    if (!region.beginFailoverWait()) return false;
    this.place = region;
    return true;
  }
}
