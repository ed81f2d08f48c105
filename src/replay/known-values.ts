import { Bytes, bytesAt, MAX_WORD_BYTES } from './byte-words.js';

const MAX_VALUES = 32;

/**
 * The few distinct values of a short string field (region, method, outcome, priority), recognised
 * where a value starts without looking for where it ends: the value, its closing quote and the
 * `,"` of the next key are compared as words (bytes past the twentieth one by one). Each value is decoded
 * once; `tags` lets the reader keep what it derives from one (a priority's rank) beside it.
 */
export class KnownValues {
  readonly strings: string[] = [];
  /** Free for the owner: per value, a number it derives from the string; UNTAGGED until set. */
  readonly tags = new Int32Array(MAX_VALUES).fill(UNTAGGED);
  private readonly heads: Bytes[] = [];
  // Each value with what follows it, for the bytes past what `heads` covers.
  private readonly whole: Uint8Array[] = [];
  // By a hash of a value's first four bytes, the first value learnt with them (-1: none). Looping
  // over the values instead, the loop's exit falls on a different value line after line, and the
  // branch it hangs on is mispredicted about once per field.
  private readonly byFirstWord = new Int8Array(WORD_SLOTS).fill(-1);

  /** The known value whose bytes and closing quote are at `at` in `b`, before `end`; -1 when none is. */
  find(b: Buffer, v: DataView<ArrayBufferLike>, at: number, end: number): number {
    // A value holds no quote, so at most one can match here: trying the likely one first changes
    // nothing but how soon it is found.
    const guess = at + 4 <= end ? this.byFirstWord[wordSlot(v.getInt32(at, true))]! : -1;
    if (guess >= 0 && this.isAt(guess, b, v, at, end)) return guess;
    const heads = this.heads;
    for (let id = 0; id < heads.length; id++) if (id !== guess && this.isAt(id, b, v, at, end)) return id;
    return -1;
  }

  private isAt(id: number, b: Buffer, v: DataView<ArrayBufferLike>, at: number, end: number): boolean {
    const head = this.heads[id]!;
    if (!bytesAt(v, at, end, head)) return false;
    const whole = this.whole[id]!;
    if (whole.length === head.length) return true;
    if (at + whole.length > end) return false;
    let k = head.length;
    while (k < whole.length && b[at + k] === whole[k]) k++;
    return k === whole.length;
  }

  /** The value's length in bytes, without its quote. */
  byteLength(id: number): number {
    return this.whole[id]!.length - AFTER.length;
  }

  /**
   * Learns the value `b[start, end)`: -1 when the table is full or the value empty, else its id.
   * `high`: it holds bytes above ASCII (decoded as UTF-8).
   */
  learn(b: Buffer, start: number, end: number, high: boolean): number {
    if (this.strings.length === MAX_VALUES || end === start) return -1;
    // Every short field is followed by the next key, so a value is recognised with the quote that
    // closes it and the `,"` after: a word's worth of bytes even for a one-letter value.
    const whole = Buffer.concat([b.subarray(start, end), AFTER]);
    const head = new Bytes(whole.subarray(0, Math.min(whole.length, MAX_WORD_BYTES)));
    const slot = wordSlot(head.w0);
    if (this.byFirstWord[slot] === -1) this.byFirstWord[slot] = this.heads.length;
    this.heads.push(head);
    this.whole.push(whole);
    this.strings.push(b.toString(high ? 'utf8' : 'latin1', start, end));
    return this.strings.length - 1;
  }
}

const AFTER = Buffer.from('","');
const WORD_SLOTS = 64;

function wordSlot(word: number): number {
  return Math.imul(word, 0x9e3779b1) >>> 26;
}
export const UNTAGGED = -2;
