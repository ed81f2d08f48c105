/**
 * A token bucket that refills lazily, the way Envoy's does: no timer, the fill is brought up to
 * date whenever it is asked about. `rate` tokens per second flow in up to `burst`; each admitted
 * request takes one. Callers pass a floor so that lower priorities can only spend tokens while the
 * bucket is fuller (see region-admission.ts), and `msUntilAvailable` answers Retry-After exactly.
 *
 * Spare tokens. Refill that arrives while the bucket is full would be lost; it flows into a second
 * bucket of the same size instead. Requests failed over from another region spend only those: what
 * the region's own traffic left unused, so they never take a token the region's own users could
 * have had, and they get the whole unused rate. The spare bucket is as large as the burst because
 * failover comes in bursts of its own (every request in flight when a region's backends die fails
 * over in the same instant); the admitted requests still leave at the refill pace (send-pacer.ts),
 * so the backend never meets both buckets' worth at once.
 *
 * Over any interval of t seconds at most `rate * t + burst` tokens can be taken from the bucket
 * itself, because the fill starts at no more than `burst` and only refill adds to it. The spare
 * bucket starts empty and holds only refill that overflowed, so over the bucket's whole life the
 * two together still give at most `rate * t + burst`; over a shorter window that starts with both
 * full, at most one burst more.
 */

// Fills are fractional; without a little slack a request arriving exactly when the arithmetic says
// a token is ready could be refused because of rounding in the last bit.
const EPSILON = 1e-9;

export class TokenBucket {
  private ratePerMs: number;
  private capacity: number;
  private fill: number;
  private spare = 0;
  private updatedAt: number;

  constructor(rate: number, burst: number, now: number) {
    this.ratePerMs = rate / 1000;
    this.capacity = usableCapacity(burst);
    this.fill = this.capacity;
    this.updatedAt = now;
  }

  /** Refill, tokens per second. */
  get rate(): number {
    return this.ratePerMs * 1000;
  }

  /** Spare tokens: refill that overflowed the full bucket and has not been spent yet. */
  spareTokens(now: number): number {
    this.refill(now);
    return this.spare;
  }

  /** True when one spare token can be taken. */
  canTakeSpare(now: number): boolean {
    this.refill(now);
    return this.spare + EPSILON >= 1;
  }

  /** Takes one spare token. Call after `canTakeSpare`. */
  takeSpare(now: number): void {
    this.refill(now);
    this.spare -= 1;
  }

  /** The largest fill the bucket can hold: `burst`, or 1 when a smaller burst could never yield a token. */
  get burst(): number {
    return this.capacity;
  }

  tokens(now: number): number {
    this.refill(now);
    return this.fill;
  }

  /** True when one token can be taken and at least `floor` tokens stay behind. */
  canTake(now: number, floor: number): boolean {
    this.refill(now);
    return this.fill + EPSILON >= floor + 1;
  }

  /** Takes one token. Call after `canTake`; without it the fill may go into debt, which later refill repays. */
  take(now: number): void {
    this.refill(now);
    this.fill -= 1;
  }

  /** Milliseconds until `canTake(now + result, floor)` holds: 0 when it holds now, Infinity when it never can. */
  msUntilAvailable(now: number, floor: number): number {
    this.refill(now);
    const missing = floor + 1 - this.fill;
    if (missing <= EPSILON) return 0;
    if (floor + 1 > this.capacity + EPSILON || this.ratePerMs <= 0) return Number.POSITIVE_INFINITY;
    return missing / this.ratePerMs;
  }

  /**
   * Adds tokens that came from elsewhere (leased from a store shared with other gateways); returns
   * how many fit under the burst. The rest are gone, which can only make the bucket stricter.
   */
  deposit(tokens: number, now: number): number {
    this.refill(now);
    const accepted = Math.max(0, Math.min(tokens, this.capacity - this.fill));
    this.fill += accepted;
    return accepted;
  }

  /** Spends every token at once (a bucket that may only spend what it was given starts from here). */
  empty(now: number): void {
    this.refill(now);
    this.fill = Math.min(this.fill, 0);
    this.spare = 0;
  }

  /**
   * Applies new limits keeping the fill as the same fraction of the burst (a bucket a quarter full
   * stays a quarter full), for a bucket whose tokens now come from elsewhere: the priority floors,
   * fractions of the burst too, then admit the same priorities as before.
   */
  rescale(rate: number, burst: number, now: number): void {
    this.refill(now);
    const fraction = this.fill / this.capacity;
    this.ratePerMs = rate / 1000;
    this.capacity = usableCapacity(burst);
    this.fill = fraction * this.capacity;
    this.spare = Math.min(this.spare, this.spareCapacity());
  }

  /** Applies new limits from now on: the fill earned so far is kept, clamped to the new burst. */
  reconfigure(rate: number, burst: number, now: number): void {
    this.refill(now);
    this.ratePerMs = rate / 1000;
    this.capacity = usableCapacity(burst);
    if (this.fill > this.capacity) this.fill = this.capacity;
    this.spare = Math.min(this.spare, this.spareCapacity());
  }

  private refill(now: number): void {
    // A clock that appears to run backwards (or two readers racing) must never drain the bucket.
    if (now <= this.updatedAt) return;
    const filled = this.fill + (now - this.updatedAt) * this.ratePerMs;
    if (filled > this.capacity) {
      this.spare = Math.min(this.spare + filled - Math.max(this.fill, this.capacity), this.spareCapacity());
      this.fill = this.capacity;
    } else this.fill = filled;
    this.updatedAt = now;
  }

  private spareCapacity(): number {
    return this.capacity;
  }
}

function usableCapacity(burst: number): number {
  return Math.max(burst, 1);
}
