/**
 * Token buckets by slot number, refilled lazily like token-bucket.ts: the arithmetic of the client
 * limit, apart from how a client's key finds its slot (client-limiter.ts keeps an LRU of keys;
 * replay, which numbers its clients itself, indexes by that number).
 *
 * A slot's two numbers (tokens, last refill) sit side by side in one Float64Array. An object per
 * client would be a header and two boxed numbers in three places in the heap: at 100k keys, looked
 * up once per request among everything else a request touches, those are three cache misses where
 * a slot is one, and garbage the collector has to trace where a slot is none.
 */

// Same rounding slack as token-bucket.ts.
const EPSILON = 1e-9;
const FIRST_SLOTS = 1024;

export class ClientBuckets {
  private ratePerMs = 0;
  private capacity = 1;
  // Per slot: tokens at 2 * slot, the time they were counted at 2 * slot + 1.
  private cells = new Float64Array(FIRST_SLOTS * 2);

  constructor(rps: number, burst: number) {
    this.setLimits(rps, burst);
  }

  /** New limits, for slots from now on; `clamp` brings a slot filled under the old ones within them. */
  setLimits(rps: number, burst: number): void {
    this.ratePerMs = rps / 1000;
    this.capacity = Math.max(1, burst);
  }

  /** A client seen for the first time: a full bucket, less the token its request takes. */
  start(slot: number, now: number): void {
    this.hold(slot);
    this.cells[2 * slot] = this.capacity - 1;
    this.cells[2 * slot + 1] = now;
  }

  /** A slot holding what another slot (maybe of other buckets) holds. */
  copy(slot: number, from: ClientBuckets, fromSlot: number): void {
    this.hold(slot);
    this.cells[2 * slot] = from.cells[2 * fromSlot]!;
    this.cells[2 * slot + 1] = from.cells[2 * fromSlot + 1]!;
  }

  /** Takes one token from the slot's bucket; false when it has none. */
  take(slot: number, now: number): boolean {
    this.refill(slot, now);
    const cells = this.cells;
    if (cells[2 * slot]! + EPSILON < 1) return false;
    cells[2 * slot]! -= 1;
    return true;
  }

  /** Whole seconds until the slot's bucket has a token again, at least 1. */
  secondsUntilToken(slot: number, now: number): number {
    if (this.ratePerMs <= 0) return 1;
    this.refill(slot, now);
    return Math.max(Math.ceil((1 - this.cells[2 * slot]!) / this.ratePerMs / 1000), 1);
  }

  refill(slot: number, now: number): void {
    const cells = this.cells;
    const updatedAt = cells[2 * slot + 1]!;
    if (now <= updatedAt) return;
    cells[2 * slot] = Math.min(cells[2 * slot]! + (now - updatedAt) * this.ratePerMs, this.capacity);
    cells[2 * slot + 1] = now;
  }

  /** Keeps no more in the slot than the burst. */
  clamp(slot: number): void {
    if (this.cells[2 * slot]! > this.capacity) this.cells[2 * slot] = this.capacity;
  }

  private hold(slot: number): void {
    if (2 * slot < this.cells.length) return;
    let size = this.cells.length;
    while (size <= 2 * slot) size *= 2;
    const cells = new Float64Array(size);
    cells.set(this.cells);
    this.cells = cells;
  }
}
