import { LRUCache } from 'lru-cache';
import { ClientBuckets } from './client-buckets.js';
import type { Clock } from './clock.js';

/**
 * One token bucket per client key (an API key or an address), refilled lazily like token-bucket.ts.
 * The keys live in an LRU bounded by `maxKeys`, so a flood of new keys cannot grow memory without
 * bound: the least recently seen client is forgotten, and a forgotten client simply starts again
 * with a full bucket, which is what an idle client would have had anyway.
 *
 * The LRU maps each key to a slot number of ClientBuckets; a slot is handed back when the LRU
 * forgets its key.
 */

export interface ClientLimitOptions {
  rps: number;
  burst: number;
  maxKeys: number;
}

export class ClientLimiter {
  private readonly clock: Clock;
  // Each key's slot of `buckets`.
  private slots: LRUCache<string, number>;
  private readonly buckets: ClientBuckets;
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;
  private readonly release = (slot: number) => {
    this.freeSlots.push(slot);
  };

  constructor(opts: ClientLimitOptions, clock: Clock) {
    this.clock = clock;
    this.buckets = new ClientBuckets(opts.rps, opts.burst);
    this.slots = this.lru(opts.maxKeys);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Slots ever handed out: what memory the buckets take, bounded by the most keys held plus one. */
  get slotCount(): number {
    return this.slotsUsed;
  }

  /** Takes one token from this client's bucket; false when the client is over its limit. */
  tryTake(key: string): boolean {
    const now = this.clock();
    const slot = this.slots.get(key);
    if (slot !== undefined) return this.buckets.take(slot, now);
    const fresh = this.newSlot();
    this.buckets.start(fresh, now);
    this.slots.set(key, fresh);
    return true;
  }

  /**
   * Takes on a client whose bucket was kept elsewhere (`from`'s slot), as the most recently seen:
   * adopting clients least recent first builds the LRU order they were seen in.
   */
  adopt(key: string, from: ClientBuckets, fromSlot: number): void {
    const slot = this.newSlot();
    this.buckets.copy(slot, from, fromSlot);
    this.slots.set(key, slot);
  }

  /** Whole seconds until this client has a token again, at least 1. */
  retryAfterSeconds(key: string): number {
    const slot = this.slots.peek(key);
    return slot === undefined ? 1 : this.buckets.secondsUntilToken(slot, this.clock());
  }

  /** Applies new limits to every known client, keeping what each has left (clamped to the new burst). */
  reconfigure(opts: ClientLimitOptions): void {
    const now = this.clock();
    for (const slot of this.slots.values()) this.buckets.refill(slot, now);
    this.buckets.setLimits(opts.rps, opts.burst);
    for (const slot of this.slots.values()) this.buckets.clamp(slot);
    if (opts.maxKeys !== this.slots.max) this.resize(opts.maxKeys);
  }

  private lru(maxKeys: number): LRUCache<string, number> {
    return new LRUCache<string, number>({ max: maxKeys, dispose: this.release });
  }

  private resize(maxKeys: number): void {
    const resized = this.lru(maxKeys);
    // entries() runs most recent first; inserting oldest first keeps the same recency order.
    const entries = [...this.slots.entries()];
    for (const [, slot] of entries.slice(maxKeys)) this.freeSlots.push(slot);
    for (const [key, slot] of entries.slice(0, maxKeys).reverse()) resized.set(key, slot);
    this.slots = resized;
  }

  private newSlot(): number {
    return this.freeSlots.pop() ?? this.slotsUsed++;
  }
}
