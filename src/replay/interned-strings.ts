/**
 * One string object per distinct short ASCII value (client addresses), looked up by its bytes.
 *
 * Why: the client limiter keys an LRU's Map by the address. A string decoded afresh on every line
 * has to be hashed again and compared byte by byte with the key already in the Map; the same
 * string object has its hash cached and compares by identity, and decoding nothing makes no
 * garbage. Values are equal either way, so this changes no decision.
 *
 * An open-addressed table of ids, with each value's bytes in one pool. A log with more distinct
 * values than the table holds simply starts it again: it is a cache, nothing depends on what it keeps.
 */

const MAX_ENTRIES = 1 << 16;
const SLOTS = MAX_ENTRIES * 2;
const MAX_BYTES = 64;

export class InternedStrings {
  // Per slot: the entry's id + 1, 0 when empty.
  private readonly slots = new Int32Array(SLOTS);
  private readonly hashes = new Int32Array(MAX_ENTRIES);
  private readonly offsets = new Int32Array(MAX_ENTRIES);
  private readonly lengths = new Uint8Array(MAX_ENTRIES);
  private readonly pool = new Uint8Array(MAX_ENTRIES * 16);
  private readonly values: string[] = [];
  private used = 0;

  /** The ASCII string `b[start, end)`, the same object for the same bytes. */
  intern(b: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_BYTES) return b.toString('latin1', start, end);
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ b[i]!, 0x01000193);
    const mask = SLOTS - 1;
    const pool = this.pool;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return this.add(slot, hash, b, start, end);
      if (this.hashes[entry] !== hash || this.lengths[entry] !== length) continue;
      const at = this.offsets[entry]!;
      let k = 0;
      while (k < length && pool[at + k] === b[start + k]) k++;
      if (k === length) return this.values[entry]!;
    }
  }

  private add(slot: number, hash: number, b: Buffer, start: number, end: number): string {
    if (this.values.length === MAX_ENTRIES || this.used + (end - start) > this.pool.length) {
      this.clear();
      return this.intern(b, start, end);
    }
    const value = b.toString('latin1', start, end);
    const entry = this.values.length;
    this.values.push(value);
    this.hashes[entry] = hash;
    this.offsets[entry] = this.used;
    this.lengths[entry] = end - start;
    this.pool.set(b.subarray(start, end), this.used);
    this.used += end - start;
    this.slots[slot] = entry + 1;
    return value;
  }

  private clear(): void {
    this.slots.fill(0);
    this.values.length = 0;
    this.used = 0;
  }
}
