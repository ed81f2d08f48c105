import { ChunkView } from './byte-words.js';

/**
 * One string object and one id per distinct short ASCII value (client addresses), looked up by
 * its bytes.
 *
 * Why: replay finds a client's token bucket at its id (client-replay.ts), and a value decoded once
 * makes no garbage line after line. Where a client is keyed by its text after all (the
 * ClientLimiter's LRU, once replay hands over to it), the same string object has its hash cached
 * and compares by identity. Values are equal either way, so this changes no decision.
 *
 * An open-addressed table whose slots hold each entry's hash and id side by side, with each value's
 * bytes in one pool. Replay looks a client up for every line among everything else it keeps warm,
 * so the table is kept as small as its entries allow (it doubles at half full) and a lookup reads
 * one slot, one entry's place in the pool and the bytes there. A log with more distinct values
 * than the table holds simply starts it again. Ids are never reused: those of a table started
 * again come after all the ones before, so an id always names one value, but a value may get a
 * new one. Ids below FIRST_TABLE_IDS are the first table's, where each value has only one, and
 * their values are kept for the whole run (at most FIRST_TABLE_IDS short strings).
 */

const MAX_ENTRIES = 1 << 16;
export const FIRST_TABLE_IDS = MAX_ENTRIES;
/** The id of a value too long to be kept. */
export const NO_ID = -1;
const FIRST_SLOTS = 1 << 10;
const MAX_BYTES = 64;

export class InternedStrings {
  // Per slot, two ints: the entry's hash and its id + 1 (0 when the slot is empty).
  private slots = new Int32Array(FIRST_SLOTS * 2);
  private mask = FIRST_SLOTS - 1;
  // Per entry, two ints: where its bytes start in the pool and how many there are.
  private readonly places = new Int32Array(MAX_ENTRIES * 2);
  private readonly pool = new Uint8Array(MAX_ENTRIES * 16);
  private readonly poolView = new DataView(this.pool.buffer);
  private values: string[] = [];
  private readonly firstValues = this.values;
  private readonly chunk = new ChunkView();
  private used = 0;
  // The id of the table's first entry: a whole table's worth of ids per table before it.
  private base = 0;

  /** The ASCII string `b[start, end)`, the same object for the same bytes. */
  intern(b: Buffer, start: number, end: number): string {
    const id = this.idHashed(b, start, end, bytesHash(b, start, end));
    return id === NO_ID ? b.toString('latin1', start, end) : this.value(id);
  }

  /**
   * The id of the ASCII string `b[start, end)`, NO_ID when it is too long to keep, for a caller
   * that has already walked the bytes and worked out their `bytesHash`.
   */
  idHashed(b: Buffer, start: number, end: number, hash: number): number {
    const length = end - start;
    if (length > MAX_BYTES) return NO_ID;
    const slots = this.slots;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = slots[2 * slot + 1]! - 1;
      if (entry < 0) return this.add(slot, hash, b, start, end);
      if (slots[2 * slot] !== hash || this.places[2 * entry + 1] !== length) continue;
      if (this.poolHolds(b, start, length, this.places[2 * entry]!)) return this.base + entry;
    }
  }

  /** The value an id stands for: an id of the first table, or of the current one. */
  value(id: number): string {
    return id < FIRST_TABLE_IDS ? this.firstValues[id]! : this.values[id - this.base]!;
  }

  /**
   * Whether `b[start, start + length)` equals the pool's bytes at `at`. Compared four bytes at a
   * time (the last word overlapping the one before): a byte loop over an address was half the
   * lookup's time.
   */
  private poolHolds(b: Buffer, start: number, length: number, at: number): boolean {
    const pool = this.pool;
    if (length < 4) {
      for (let k = 0; k < length; k++) if (pool[at + k] !== b[start + k]) return false;
      return true;
    }
    const v = this.chunk.of(b);
    const p = this.poolView;
    const last = length - 4;
    for (let k = 0; k < last; k += 4)
      if (v.getInt32(start + k, true) !== p.getInt32(at + k, true)) return false;
    return v.getInt32(start + last, true) === p.getInt32(at + last, true);
  }

  private add(slot: number, hash: number, b: Buffer, start: number, end: number): number {
    if (this.values.length === MAX_ENTRIES || this.used + (end - start) > this.pool.length) {
      this.clear();
      return this.idHashed(b, start, end, hash);
    }
    const value = b.toString('latin1', start, end);
    const entry = this.values.length;
    this.values.push(value);
    this.places[2 * entry] = this.used;
    this.places[2 * entry + 1] = end - start;
    this.pool.set(b.subarray(start, end), this.used);
    this.used += end - start;
    this.slots[2 * slot] = hash;
    this.slots[2 * slot + 1] = entry + 1;
    if (2 * this.values.length > this.mask + 1) this.grow();
    return this.base + entry;
  }

  /** Twice the slots, every entry placed again by its hash. */
  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = old.length - 1;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] === 0) continue;
      let slot = old[i]! & mask;
      while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
      slots[2 * slot] = old[i]!;
      slots[2 * slot + 1] = old[i + 1]!;
    }
    this.slots = slots;
    this.mask = mask;
  }

  private clear(): void {
    this.base += MAX_ENTRIES;
    this.slots = new Int32Array(FIRST_SLOTS * 2);
    this.mask = FIRST_SLOTS - 1;
    this.values = [];
    this.used = 0;
  }
}

export const HASH_START = 0x811c9dc5;

/** One step of the hash (32-bit FNV-1a) `bytesHash` takes over each byte. */
export function hashStep(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, 0x01000193);
}

export function bytesHash(b: Uint8Array, start: number, end: number): number {
  let hash = HASH_START;
  for (let i = start; i < end; i++) hash = hashStep(hash, b[i]!);
  return hash;
}
