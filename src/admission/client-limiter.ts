import type { Clock } from './clock.js';

/**
 * One token bucket per client key (an API key or an address), refilled lazily like token-bucket.ts.
 * The keys are bounded by `maxKeys`, so a flood of new keys cannot grow memory without bound: the
 * least recently seen client is forgotten, and a forgotten client simply starts again with a full
 * bucket, which is what an idle client would have had anyway.
 *
 * A Map gives each key a slot number; a slot's two numbers (tokens, last refill) sit side by side
 * in one Float64Array, and its place in the recency order is two links in Int32Arrays. An object
 * per client would be a header and two boxed numbers in three places in the heap: at 100k keys,
 * looked up once per request among everything else a request touches, those are three cache misses
 * where a slot is one, and garbage the collector has to trace where a slot is none. Why not
 * lru-cache, which did this before: its `get` is a general one (staleness, options, fetches) and
 * was as dear as the rest of the limiter on every request; the recency order here is the same
 * least-recently-used one, so the same clients are forgotten. A forgotten client's slot is reused.
 */

export interface ClientLimitOptions {
  rps: number;
  burst: number;
  maxKeys: number;
}

// Same rounding slack as token-bucket.ts.
const EPSILON = 1e-9;
const FIRST_SLOTS = 1024;
const NONE = -1;

export class ClientLimiter {
  private readonly clock: Clock;
  private ratePerMs: number;
  private capacity: number;
  private maxKeys: number;
  private readonly slots = new Map<string, number>();
  // Per slot: tokens at 2 * slot, the time they were counted at 2 * slot + 1.
  private cells = new Float64Array(FIRST_SLOTS * 2);
  // Per slot, its key and its neighbours in the recency order (NONE past either end).
  private readonly keys: Array<string | undefined> = [];
  private older = new Int32Array(FIRST_SLOTS);
  private newer = new Int32Array(FIRST_SLOTS);
  private oldest = NONE;
  private newest = NONE;
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;

  constructor(opts: ClientLimitOptions, clock: Clock) {
    this.clock = clock;
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    this.maxKeys = opts.maxKeys;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Slots ever handed out: what memory the buckets take, bounded by the most keys held. */
  get slotCount(): number {
    return this.slotsUsed;
  }

  /** Takes one token from this client's bucket; false when the client is over its limit. */
  tryTake(key: string): boolean {
    const now = this.clock();
    const slot = this.slots.get(key);
    if (slot === undefined) {
      const fresh = this.slots.size >= this.maxKeys ? this.forgetOldest() : this.newSlot();
      this.cells[2 * fresh] = this.capacity - 1;
      this.cells[2 * fresh + 1] = now;
      this.keys[fresh] = key;
      this.slots.set(key, fresh);
      this.linkNewest(fresh);
      return true;
    }
    if (slot !== this.newest) {
      this.unlink(slot);
      this.linkNewest(slot);
    }
    this.refill(slot, now);
    const cells = this.cells;
    if (cells[2 * slot]! + EPSILON < 1) return false;
    cells[2 * slot]! -= 1;
    return true;
  }

  /** Whole seconds until this client has a token again, at least 1. */
  retryAfterSeconds(key: string): number {
    const slot = this.slots.get(key);
    if (slot === undefined || this.ratePerMs <= 0) return 1;
    this.refill(slot, this.clock());
    const seconds = Math.ceil((1 - this.cells[2 * slot]!) / this.ratePerMs / 1000);
    return Math.max(seconds, 1);
  }

  /** Applies new limits to every known client, keeping what each has left (clamped to the new burst). */
  reconfigure(opts: ClientLimitOptions): void {
    const now = this.clock();
    for (const slot of this.slots.values()) this.refill(slot, now);
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    const cells = this.cells;
    for (const slot of this.slots.values())
      if (cells[2 * slot]! > this.capacity) cells[2 * slot] = this.capacity;
    this.maxKeys = opts.maxKeys;
    while (this.slots.size > this.maxKeys) this.freeSlots.push(this.forgetOldest());
  }

  /** Forgets the least recently seen client; returns its slot, free to reuse. */
  private forgetOldest(): number {
    const slot = this.oldest;
    this.unlink(slot);
    this.slots.delete(this.keys[slot]!);
    this.keys[slot] = undefined;
    return slot;
  }

  private unlink(slot: number): void {
    const older = this.older[slot]!;
    const newer = this.newer[slot]!;
    if (older === NONE) this.oldest = newer;
    else this.newer[older] = newer;
    if (newer === NONE) this.newest = older;
    else this.older[newer] = older;
  }

  private linkNewest(slot: number): void {
    this.older[slot] = this.newest;
    this.newer[slot] = NONE;
    if (this.newest === NONE) this.oldest = slot;
    else this.newer[this.newest] = slot;
    this.newest = slot;
  }

  private newSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.slotsUsed === this.older.length) {
      this.cells = grown(this.cells, new Float64Array(this.cells.length * 2));
      this.older = grown(this.older, new Int32Array(this.older.length * 2));
      this.newer = grown(this.newer, new Int32Array(this.newer.length * 2));
    }
    return this.slotsUsed++;
  }

  private refill(slot: number, now: number): void {
    const cells = this.cells;
    const updatedAt = cells[2 * slot + 1]!;
    if (now <= updatedAt) return;
    const filled = cells[2 * slot]! + (now - updatedAt) * this.ratePerMs;
    cells[2 * slot] = Math.min(filled, this.capacity);
    cells[2 * slot + 1] = now;
  }
}

function grown<T extends Float64Array | Int32Array>(old: T, larger: T): T {
  larger.set(old);
  return larger;
}
