import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';

/**
 * One token bucket per client key (an API key or an address), refilled lazily like token-bucket.ts.
 * The keys live in an LRU bounded by `maxKeys`, so a flood of new keys cannot grow memory without
 * bound: the least recently seen client is forgotten, and a forgotten client simply starts again
 * with a full bucket, which is what an idle client would have had anyway.
 *
 * The LRU maps each key to a slot number, and a slot's two numbers (tokens, last refill) sit side
 * by side in one Float64Array. An object per client would be a header and two boxed numbers in
 * three places in the heap: at 100k keys, looked up once per request among everything else a
 * request touches, those are three cache misses where a slot is one, and garbage the collector has
 * to trace where a slot is none. A slot is handed back when the LRU forgets its key.
 */

export interface ClientLimitOptions {
  rps: number;
  burst: number;
  maxKeys: number;
}

// Same rounding slack as token-bucket.ts.
const EPSILON = 1e-9;
const FIRST_SLOTS = 1024;

export class ClientLimiter {
  private readonly clock: Clock;
  private ratePerMs: number;
  private capacity: number;
  private buckets: LRUCache<string, number>;
  // Per slot: tokens at 2 * slot, the time they were counted at 2 * slot + 1.
  private cells = new Float64Array(FIRST_SLOTS * 2);
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;
  private readonly release = (slot: number) => {
    this.freeSlots.push(slot);
  };

  constructor(opts: ClientLimitOptions, clock: Clock) {
    this.clock = clock;
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    this.buckets = this.lru(opts.maxKeys);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Slots ever handed out: what memory the buckets take, bounded by the most keys held plus one. */
  get slotCount(): number {
    return this.slotsUsed;
  }

  /** Takes one token from this client's bucket; false when the client is over its limit. */
  tryTake(key: string): boolean {
    const now = this.clock();
    const slot = this.buckets.get(key);
    if (slot === undefined) {
      const fresh = this.newSlot();
      this.cells[2 * fresh] = this.capacity - 1;
      this.cells[2 * fresh + 1] = now;
      this.buckets.set(key, fresh);
      return true;
    }
    this.refill(slot, now);
    const cells = this.cells;
    if (cells[2 * slot]! + EPSILON < 1) return false;
    cells[2 * slot]! -= 1;
    return true;
  }

  /** Whole seconds until this client has a token again, at least 1. */
  retryAfterSeconds(key: string): number {
    const slot = this.buckets.peek(key);
    if (slot === undefined || this.ratePerMs <= 0) return 1;
    this.refill(slot, this.clock());
    const seconds = Math.ceil((1 - this.cells[2 * slot]!) / this.ratePerMs / 1000);
    return Math.max(seconds, 1);
  }

  /** Applies new limits to every known client, keeping what each has left (clamped to the new burst). */
  reconfigure(opts: ClientLimitOptions): void {
    const now = this.clock();
    for (const slot of this.buckets.values()) this.refill(slot, now);
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    const cells = this.cells;
    for (const slot of this.buckets.values())
      if (cells[2 * slot]! > this.capacity) cells[2 * slot] = this.capacity;
    if (opts.maxKeys !== this.buckets.max) this.resize(opts.maxKeys);
  }

  private lru(maxKeys: number): LRUCache<string, number> {
    return new LRUCache<string, number>({ max: maxKeys, dispose: this.release });
  }

  private resize(maxKeys: number): void {
    const resized = this.lru(maxKeys);
    // entries() runs most recent first; inserting oldest first keeps the same recency order.
    const entries = [...this.buckets.entries()];
    for (const [, slot] of entries.slice(maxKeys)) this.freeSlots.push(slot);
    for (const [key, slot] of entries.slice(0, maxKeys).reverse()) resized.set(key, slot);
    this.buckets = resized;
  }

  private newSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (2 * this.slotsUsed === this.cells.length) {
      const cells = new Float64Array(this.cells.length * 2);
      cells.set(this.cells);
      this.cells = cells;
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
