import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.js';

/**
 * One token bucket per client key (an API key or an address), refilled lazily like token-bucket.ts.
 * The keys live in an LRU bounded by `maxKeys`, so a flood of new keys cannot grow memory without
 * bound: the least recently seen client is forgotten, and a forgotten client simply starts again
 * with a full bucket, which is what an idle client would have had anyway.
 *
 * Each entry is a two-field record rather than a TokenBucket instance: at 100k keys the saving in
 * memory and in garbage matters more than the reuse.
 */

export interface ClientLimitOptions {
  rps: number;
  burst: number;
  maxKeys: number;
}

interface ClientBucket {
  tokens: number;
  updatedAt: number;
}

// Same rounding slack as token-bucket.ts.
const EPSILON = 1e-9;

export class ClientLimiter {
  private readonly clock: Clock;
  private ratePerMs: number;
  private capacity: number;
  private buckets: LRUCache<string, ClientBucket>;

  constructor(opts: ClientLimitOptions, clock: Clock) {
    this.clock = clock;
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    this.buckets = new LRUCache({ max: opts.maxKeys });
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token from this client's bucket; false when the client is over its limit. */
  tryTake(key: string): boolean {
    const now = this.clock();
    const bucket = this.buckets.get(key);
    if (bucket === undefined) {
      this.buckets.set(key, { tokens: this.capacity - 1, updatedAt: now });
      return true;
    }
    this.refill(bucket, now);
    if (bucket.tokens + EPSILON < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whole seconds until this client has a token again, at least 1. */
  retryAfterSeconds(key: string): number {
    const bucket = this.buckets.peek(key);
    if (bucket === undefined || this.ratePerMs <= 0) return 1;
    this.refill(bucket, this.clock());
    const seconds = Math.ceil((1 - bucket.tokens) / this.ratePerMs / 1000);
    return Math.max(seconds, 1);
  }

  /** Applies new limits to every known client, keeping what each has left (clamped to the new burst). */
  reconfigure(opts: ClientLimitOptions): void {
    const now = this.clock();
    for (const bucket of this.buckets.values()) this.refill(bucket, now);
    this.ratePerMs = opts.rps / 1000;
    this.capacity = Math.max(1, opts.burst);
    for (const bucket of this.buckets.values())
      if (bucket.tokens > this.capacity) bucket.tokens = this.capacity;
    if (opts.maxKeys !== this.buckets.max) this.resize(opts.maxKeys);
  }

  private resize(maxKeys: number): void {
    const resized = new LRUCache<string, ClientBucket>({ max: maxKeys });
    // entries() runs most recent first; inserting oldest first keeps the same recency order.
    const kept = [...this.buckets.entries()].slice(0, maxKeys).reverse();
    for (const [key, bucket] of kept) resized.set(key, bucket);
    this.buckets = resized;
  }

  private refill(bucket: ClientBucket, now: number): void {
    if (now <= bucket.updatedAt) return;
    const filled = bucket.tokens + (now - bucket.updatedAt) * this.ratePerMs;
    bucket.tokens = Math.min(filled, this.capacity);
    bucket.updatedAt = now;
  }
}
