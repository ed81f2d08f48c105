/**
 * Caps the requests in flight to one region. A caller with reserve r may only acquire while
 * `inflight + 1 <= floor(limit * (1 - r))`, so when slow upstreams pile requests up, the slots kept
 * back are still free for more important work; reserve 0 may use every slot. Which reserve applies
 * to a priority (its configured one while the region is short of slots, a smaller one while slots
 * sit idle) is decided by the admission core, see region-admission.ts.
 *
 * Every priority may still use at least one slot: with a small limit the rounding would otherwise
 * lock a priority out entirely (limit 1 and reserve 0.25 leaves floor(0.75) = 0 slots), and a
 * region with nothing in flight has no more important work to protect.
 */

// limit * (1 - r) is computed in floating point; 10 * (1 - 0.3) must count as 7, not 6.999...
const EPSILON = 1e-9;

export class InflightLimiter {
  private current = 0;
  private cap: number;

  constructor(limit: number) {
    this.cap = wholeLimit(limit);
  }

  get inflight(): number {
    return this.current;
  }

  get limit(): number {
    return this.cap;
  }

  /** Moves the cap (adaptive concurrency, reload). Requests already in flight keep their slots. */
  setLimit(limit: number): void {
    this.cap = wholeLimit(limit);
  }

  /** The number of slots a priority with this reserve may occupy. */
  slotsFor(reserve: number): number {
    if (reserve <= 0) return this.cap;
    const slots = Math.floor(this.cap * (1 - reserve) + EPSILON);
    return slots >= 1 ? slots : Math.min(1, this.cap);
  }

  canAcquire(reserve: number): boolean {
    return this.current + 1 <= this.slotsFor(reserve);
  }

  /** True while one more request keeps the count at or under `slots` (no minimum of one slot here). */
  canAcquireUpTo(slots: number): boolean {
    return this.current + 1 <= slots;
  }

  acquire(): void {
    this.current += 1;
  }

  /** Gives a slot back; an extra release is ignored rather than opening a slot that was never taken. */
  release(): void {
    if (this.current > 0) this.current -= 1;
  }
}

function wholeLimit(limit: number): number {
  return limit > 0 ? Math.floor(limit) : 0;
}
