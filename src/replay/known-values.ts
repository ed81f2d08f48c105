import { ByteRun } from './byte-words.js';

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
  // Each value with the quote and `,"` that follow it.
  private readonly runs: ByteRun[] = [];
  // By a hash of a value's first four bytes, the first value learnt with them (-1: none). Looping
  // over the values instead, the loop's exit falls on a different value line after line, and the
  // branch it hangs on is mispredicted about once per field.
  private readonly byFirstWord = new Int8Array(WORD_SLOTS).fill(-1);

  /** The known value whose bytes and closing quote are at `at` in `b`, before `end`; -1 when none is. */
  find(b: Buffer, v: DataView<ArrayBufferLike>, at: number, end: number): number {
    // A value holds no quote, so at most one can match here: trying the likely one first changes
    // nothing but how soon it is found.
    const guess = at + 4 <= end ? this.byFirstWord[wordSlot(v.getInt32(at, true))]! : -1;
    const runs = this.runs;
    if (guess >= 0 && runs[guess]!.isAt(v, b, at, end)) return guess;
    for (let id = 0; id < runs.length; id++) if (id !== guess && runs[id]!.isAt(v, b, at, end)) return id;
    return -1;
  }

  /** The value's length in bytes, without its quote. */
  byteLength(id: number): number {
    return this.runs[id]!.bytes.length - AFTER.length;
  }

  /**
   * Learns the value `b[start, end)`: -1 when the table is full or the value empty, else its id.
   * `high`: it holds bytes above ASCII (decoded as UTF-8).
   */
  learn(b: Buffer, start: number, end: number, high: boolean): number {
    if (this.strings.length === MAX_VALUES || end === start) return -1;
    // Every short field is followed by the next key, so a value is recognised with the quote that
    // closes it and the `,"` after: a word's worth of bytes even for a one-letter value.
    const run = new ByteRun(Buffer.concat([b.subarray(start, end), AFTER]));
    const slot = wordSlot(run.firstWord);
    if (this.byFirstWord[slot] === -1) this.byFirstWord[slot] = this.runs.length;
    this.runs.push(run);
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
