/**
 * Strings decoded from short runs of ASCII bytes (client addresses, the head of a request path),
 * kept so that a run seen again costs a hash and a compare instead of a decode and a new string.
 * The strings handed out repeat, so a Map keyed by them finds their hash already computed, and the
 * replay makes no garbage for them.
 *
 * Direct-mapped: each run has one slot, chosen by its hash, and a run that lands on a taken slot
 * replaces what was there. Memory is fixed (about 50 bytes a slot); a log with more distinct values
 * than slots just decodes more often.
 */

const WIDTH = 48;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

export class AsciiStrings {
  private readonly pool: Uint8Array;
  private readonly lengths: Int16Array;
  private readonly values: string[];
  private readonly mask: number;

  /** `slots` must be a power of two. */
  constructor(slots: number) {
    this.mask = slots - 1;
    this.pool = new Uint8Array(slots * WIDTH);
    this.lengths = new Int16Array(slots).fill(-1);
    this.values = new Array<string>(slots).fill('');
  }

  /** The string of the ASCII bytes `b[start, end)`. */
  get(b: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > WIDTH) return b.toString('latin1', start, end);
    let hash = FNV_OFFSET;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ b[i]!, FNV_PRIME);
    const slot = (hash ^ (hash >>> 15)) & this.mask;
    const pool = this.pool;
    const at = slot * WIDTH;
    if (this.lengths[slot] === length) {
      let k = 0;
      while (k < length && pool[at + k] === b[start + k]) k++;
      if (k === length) return this.values[slot]!;
    }
    const value = b.toString('latin1', start, end);
    pool.set(b.subarray(start, end), at);
    this.lengths[slot] = length;
    this.values[slot] = value;
    return value;
  }
}
