/**
 * When an admitted request may leave for its region's upstreams. The token bucket decides which
 * requests are admitted; this decides when they go, so that a burst the bucket lets in reaches the
 * backend spread over the refill pace instead of in one instant.
 *
 * Why. Tokens saved while the region was quiet say it may take `burst` more requests over the next
 * `burst / rps` seconds, not that its backend can take them in the same millisecond on top of work
 * the gateway cannot see: requests a killed process left behind, another instance's share, the
 * first instant of a flood. A backend that queues (workers, a store behind them) turns such an
 * instant into timeouts and wrong answers even though the rate was within capacity. nginx's
 * `limit_req` without `nodelay` does the same: excess requests wait for their turn instead of being
 * forwarded at once.
 *
 * Inputs: the clock and the pace, a little above the region's refill rate (see region.ts): paced at
 * exactly the refill, a flood that keeps the bucket empty would keep the burst it was admitted with
 * queued ahead of every later request for as long as it lasts. The schedule is GCRA's virtual
 * scheduling: each request's turn is one refill interval after the one
 * before, and up to `tolerance` intervals ahead of that may go at once, so traffic that is no
 * burstier than that never waits. Nothing is refused here: admission already decided.
 *
 * One schedule per region, for its own requests and failover alike: with a schedule each, the two
 * together reached the backend at twice the pace, and a backend that answers wrong under bursts
 * (the simulated counts store serves zero likes) did. Own requests book their turn (`wait`);
 * a request failed over from another region only takes a turn that is free at the moment it asks
 * (`spareTurn`) and otherwise asks again when one should be, so it never books a later turn that
 * the region's own requests would then queue behind: they come first here as in admission. A
 * request that will not leave after all (its client left) gives its turn back (`giveBack`), so the
 * next one takes it instead of queueing behind a turn nobody uses.
 *
 * Invariants. Over any window of t ms at most `t / interval + tolerance + 1` requests leave at their
 * turn, own and failover together; no request waits longer than `maxWaitMs` (a region configured
 * with a low rate and a large burst, a quota more than a capacity, would otherwise hold requests
 * for seconds; a failover request that found no free turn by then takes one, `force`); a clock that
 * steps back never makes a wait longer than `maxWaitMs`.
 *
 * Failure modes: a request whose wait was capped leaves early and may still meet a busy backend;
 * own traffic that keeps every turn taken makes failover wait its longest; with a rate of 0
 * (tokens leased from elsewhere before the first lease) nothing is paced.
 */
import type { RegionAdmission } from './region-admission.js';

// Turns are sums of fractional intervals; a request exactly on its turn must not wait 1e-13 ms.
const EPSILON = 1e-6;

/** Requests beyond the refill pace that leave at once: a pair, as independent users send them. */
export const PACE_TOLERANCE = 1;
/**
 * Turns come at the sustainable throughput `rps` is sized from (docs/operations.md: rps at about
 * 90% of it), a little faster than the refill: at exactly the refill rate, a flood that keeps the
 * bucket empty would keep the burst it was admitted with queued for as long as it lasts.
 */
export const PACE_HEADROOM = 1 / 0.9;

/**
 * The pace a region's admitted requests leave at: a little above the bucket's refill. Leased tokens
 * have no local refill, and a process may lease more than its share while its peers are idle, so
 * it paces at the region's whole configured rate: pacing smooths bursts, the leases are what limit.
 */
export function paceRps(admission: RegionAdmission, configuredRps: number): number {
  const rate = admission.tokenSupply.kind === 'local' ? admission.bucket.rate : configuredRps;
  return rate * PACE_HEADROOM;
}

export class SendPacer {
  /** The theoretical time of the next request's turn, in clock ms. */
  private nextTurn = Number.NEGATIVE_INFINITY;

  constructor(
    /** Requests beyond the pace that may leave at once, in refill intervals. */
    private readonly tolerance: number,
    /** `capacity.paceMaxWaitMs`: set again on reload; 0 lets every request go at once. */
    public maxWaitMs: number,
  ) {}

  /**
   * For a request failed over from another region: takes a turn only if one is free at `now`, so it
   * never books a later turn that the region's own requests would then queue behind. Returns 0 when
   * it took one, else how long until one would be free (taken by nobody: ask again then; an own
   * request arriving meanwhile may get it first). `force` takes the turn now whatever the schedule
   * says, for a request that has waited its longest.
   */
  spareTurn(now: number, ratePerSecond: number, force: boolean): number {
    if (!(ratePerSecond > 0) || this.maxWaitMs <= 0) return 0;
    const interval = 1000 / ratePerSecond;
    const wait = this.nextTurn - this.tolerance * interval - now;
    if (wait >= EPSILON && !force) return wait;
    this.book(now, now, interval);
    return 0;
  }

  /** Takes the next turn for a request admitted at `now`; returns how long it waits, in ms. */
  wait(now: number, ratePerSecond: number): number {
    if (!(ratePerSecond > 0)) return 0;
    const interval = 1000 / ratePerSecond;
    const turn = Math.max(now, this.nextTurn - this.tolerance * interval);
    let wait = Math.min(turn - now, this.maxWaitMs);
    if (wait < EPSILON) wait = 0;
    // A capped wait still moves the schedule on by one turn, so later requests queue behind it.
    this.book(now, now + wait, interval);
    return wait;
  }

  /**
   * Gives back the turn of a request that will not leave after all (its client left while it
   * waited), so the next request takes it instead of queueing behind a turn nobody uses. Only a
   * turn still ahead is worth anything: one already passed has been taken, or wasted, by the clock.
   */
  giveBack(now: number, ratePerSecond: number): void {
    if (!(ratePerSecond > 0)) return;
    this.nextTurn = Math.max(this.nextTurn - 1000 / ratePerSecond, now);
  }

  /** Books the turn of a request that asked at `now` and leaves at `leaves`. */
  private book(now: number, leaves: number, interval: number): void {
    this.nextTurn = Math.max(this.nextTurn, leaves) + interval;
    // Never let the schedule run further ahead than the longest wait: a clock that stepped back,
    // or a run of capped waits, must not pile up a debt that later quiet traffic would pay.
    this.nextTurn = Math.min(this.nextTurn, now + this.maxWaitMs + (this.tolerance + 1) * interval);
  }
}
