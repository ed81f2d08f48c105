/**
 * Requests per second over a sliding window of up to five seconds, kept in a ring of one-second
 * slots. `record` touches one slot and allocates nothing, so it can sit on the request path.
 *
 * `rate` counts the slots inside the window; the oldest slot usually straddles the window's start
 * and is counted in proportion to its overlap, as if its requests were spread evenly over it. This
 * keeps the rate smooth as the window slides instead of jumping each time a second rolls over.
 * Until a meter has lived a whole window the rate covers only its lifetime (at least one second,
 * so a single early request does not read as a flood).
 */

const SLOT_MS = 1000;
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 5000;
// The window can straddle one more slot than it covers whole.
const SLOT_COUNT = MAX_WINDOW_MS / SLOT_MS + 1;

export class RateMeter {
  private readonly counts = new Float64Array(SLOT_COUNT);
  private readonly seconds = new Float64Array(SLOT_COUNT).fill(Number.NEGATIVE_INFINITY);
  private readonly startedAt: number;
  private span: number;
  // The slot the last record counted in, and a stretch of time that surely floors to its second
  // (after the second's start and a millisecond short of its end, far beyond any rounding of
  // `now / SLOT_MS`): records come several to a second, so most skip the division and the remainder.
  private lastSlot = 0;
  private lastFrom = Number.POSITIVE_INFINITY;
  private lastTo = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, now: number) {
    this.span = clampWindow(windowMs);
    this.startedAt = now;
  }

  get windowMs(): number {
    return this.span;
  }

  /** Changes the window; the slots already kept stay, so the rate does not restart from zero. */
  set windowMs(windowMs: number) {
    this.span = clampWindow(windowMs);
  }

  record(now: number, n = 1): void {
    if (now > this.lastFrom && now < this.lastTo) {
      this.counts[this.lastSlot]! += n;
      return;
    }
    const second = Math.floor(now / SLOT_MS);
    const slot = slotOf(second);
    const kept = this.seconds[slot]!;
    if (kept !== second) {
      // A late record for a second whose slot has already been reused is too old to matter.
      if (kept > second) return;
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]! += n;
    this.lastSlot = slot;
    this.lastFrom = second * SLOT_MS;
    this.lastTo = this.lastFrom + SLOT_MS - 1;
  }

  rate(now: number): number {
    return this.rateOver(now, this.span);
  }

  /** The rate over the last `spanMs` only (at most the window). */
  rateOver(now: number, spanMs: number): number {
    const windowStart = Math.max(now - Math.min(spanMs, this.span), this.startedAt);
    let total = 0;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const count = this.counts[slot]!;
      if (count === 0) continue;
      total += count * this.shareInWindow(this.seconds[slot]! * SLOT_MS, windowStart, now);
    }
    return (total * 1000) / Math.max(now - windowStart, SLOT_MS);
  }

  /** The share of a slot's requests that fell inside [windowStart, now], assuming they were spread evenly. */
  private shareInWindow(slotStart: number, windowStart: number, now: number): number {
    const from = Math.max(slotStart, this.startedAt);
    const to = Math.min(slotStart + SLOT_MS, now);
    if (to <= from) return from >= windowStart && from <= now ? 1 : 0;
    const overlap = to - Math.max(from, windowStart);
    if (overlap <= 0) return 0;
    return overlap >= to - from ? 1 : overlap / (to - from);
  }
}

function clampWindow(windowMs: number): number {
  if (!(windowMs >= MIN_WINDOW_MS)) return MIN_WINDOW_MS;
  return Math.min(windowMs, MAX_WINDOW_MS);
}

function slotOf(second: number): number {
  const slot = second % SLOT_COUNT;
  return slot < 0 ? slot + SLOT_COUNT : slot;
}
