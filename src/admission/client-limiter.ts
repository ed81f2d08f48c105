import type { Clock } from './clock.js';
import { LruSlots } from './lru-slots.js';

/**
 * One token bucket per client key (an API key or an address), refilled lazily like token-bucket.ts.
 * The keys live in an LRU bounded by `maxKeys`, so a flood of new keys cannot grow memory without
 * bound: the least recently seen client is forgotten, and a forgotten client simply starts again
 * with a full bucket, which is what an idle client would have had anyway.
 *
 * Each bucket is two numbers in typed arrays indexed by the key's slot rather than an object or a
 * TokenBucket instance: at 100k keys the saving in memory, garbage and cache misses matters more
 * than the reuse.
 */

export interface ClientLimitOptions {
  rps: number;
  burst: number;
  maxKeys: number;
}

// Same rounding slack as token-bucket.ts.
const EPSILON = 1e-9;

export class ClientLimiter {
  private readonly clock: Clock;
  private ratePerMs: number;
  private capacity: number;
  private keys: LruSlots;
  private tokens: Float64Array;
  private updatedAt: Float64Array;

  constructor(opts: ClientLimitOptions, clock: Clock) {
    this.clock = clock;
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    this.keys = new LruSlots(opts.maxKeys);
    this.tokens = new Float64Array(this.keys.capacity);
    this.updatedAt = new Float64Array(this.keys.capacity);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Takes one token from this client's bucket; false when the client is over its limit. */
  tryTake(key: string): boolean {
    const now = this.clock();
    const slot = this.keys.get(key);
    if (slot === -1) {
      this.start(this.keys.add(key), this.capacity - 1, now);
      return true;
    }
    this.refill(slot, now);
    if (this.tokens[slot]! + EPSILON < 1) return false;
    this.tokens[slot]! -= 1;
    return true;
  }

  /** Whole seconds until this client has a token again, at least 1. */
  retryAfterSeconds(key: string): number {
    const slot = this.keys.peek(key);
    if (slot === -1 || this.ratePerMs <= 0) return 1;
    this.refill(slot, this.clock());
    const seconds = Math.ceil((1 - this.tokens[slot]!) / this.ratePerMs / 1000);
    return Math.max(seconds, 1);
  }

  /** Applies new limits to every known client, keeping what each has left (clamped to the new burst). */
  reconfigure(opts: ClientLimitOptions): void {
    const now = this.clock();
    for (const slot of this.keys.slots()) this.refill(slot, now);
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    for (const slot of this.keys.slots())
      if (this.tokens[slot]! > this.capacity) this.tokens[slot] = this.capacity;
    if (opts.maxKeys !== this.keys.max) this.resize(opts.maxKeys);
  }

  private resize(maxKeys: number): void {
    const old = { keys: this.keys, tokens: this.tokens, updatedAt: this.updatedAt };
    this.keys = new LruSlots(maxKeys);
    this.tokens = new Float64Array(this.keys.capacity);
    this.updatedAt = new Float64Array(this.keys.capacity);
    // Most recent first; adding the kept ones oldest first keeps the same recency order.
    const kept = [...old.keys.slots()].slice(0, maxKeys).reverse();
    for (const slot of kept)
      this.start(this.keys.add(old.keys.keyAt(slot)), old.tokens[slot]!, old.updatedAt[slot]!);
  }

  private start(slot: number, tokens: number, now: number): void {
    if (slot >= this.tokens.length) {
      const grown = {
        tokens: new Float64Array(this.keys.capacity),
        updatedAt: new Float64Array(this.keys.capacity),
      };
      grown.tokens.set(this.tokens);
      grown.updatedAt.set(this.updatedAt);
      this.tokens = grown.tokens;
      this.updatedAt = grown.updatedAt;
    }
    this.tokens[slot] = tokens;
    this.updatedAt[slot] = now;
  }

  private refill(slot: number, now: number): void {
    const updatedAt = this.updatedAt[slot]!;
    if (now <= updatedAt) return;
    this.tokens[slot] = Math.min(this.tokens[slot]! + (now - updatedAt) * this.ratePerMs, this.capacity);
    this.updatedAt[slot] = now;
  }
}
