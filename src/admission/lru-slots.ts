/**
 * Keys numbered by slot, at most `max` of them, the least recently used given up first: the
 * bookkeeping of an LRU without its values, which the caller keeps in typed arrays indexed by
 * slot. Recency is a doubly linked list through two Int32Arrays, most recent at the head.
 *
 * Why not lru-cache here: the client limiter looks a key up on every request, and lru-cache's
 * get (options, status, staleness checks, then the value object and its fields elsewhere in
 * memory) cost several times the Map lookup it wraps. The order kept is the same: a get or an add
 * makes the key the most recent, a peek does not, and a full set evicts the least recent.
 */

const FIRST_CAPACITY = 1024;

export class LruSlots {
  readonly max: number;
  private readonly index = new Map<string, number>();
  private keys: string[] = [];
  private prev: Int32Array;
  private next: Int32Array;
  private head = -1;
  private tail = -1;

  constructor(max: number) {
    this.max = max;
    // Grown as keys come, so a large max costs nothing until it is reached.
    const capacity = Math.min(max, FIRST_CAPACITY);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  get size(): number {
    return this.index.size;
  }

  /** Slots are numbered from 0 below this; arrays indexed by slot must be at least this long. */
  get capacity(): number {
    return this.prev.length;
  }

  /** The key's slot, made the most recent; -1 when the key is not kept. */
  get(key: string): number {
    const slot = this.index.get(key);
    if (slot === undefined) return -1;
    if (slot !== this.head) {
      this.unlink(slot);
      this.linkHead(slot);
    }
    return slot;
  }

  /** The key's slot, its recency untouched; -1 when the key is not kept. */
  peek(key: string): number {
    return this.index.get(key) ?? -1;
  }

  /** Keeps a key not kept yet as the most recent, in a new slot or the least recent key's. */
  add(key: string): number {
    let slot: number;
    if (this.index.size < this.max) {
      slot = this.index.size;
      if (slot === this.prev.length) this.grow();
    } else {
      slot = this.tail;
      this.index.delete(this.keys[slot]!);
      this.unlink(slot);
    }
    this.keys[slot] = key;
    this.index.set(key, slot);
    this.linkHead(slot);
    return slot;
  }

  /** Every kept slot, most recent first. */
  *slots(): Generator<number> {
    for (let slot = this.head; slot !== -1; slot = this.next[slot]!) yield slot;
  }

  keyAt(slot: number): string {
    return this.keys[slot]!;
  }

  private unlink(slot: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    if (before === -1) this.head = after;
    else this.next[before] = after;
    if (after === -1) this.tail = before;
    else this.prev[after] = before;
  }

  private linkHead(slot: number): void {
    this.prev[slot] = -1;
    this.next[slot] = this.head;
    if (this.head === -1) this.tail = slot;
    else this.prev[this.head] = slot;
    this.head = slot;
  }

  private grow(): void {
    const capacity = Math.min(this.max, this.prev.length * 2);
    const prev = new Int32Array(capacity);
    const next = new Int32Array(capacity);
    prev.set(this.prev);
    next.set(this.next);
    this.prev = prev;
    this.next = next;
  }
}
