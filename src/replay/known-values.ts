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

  /** The known value whose bytes and closing quote are at `at` in `b`, before `end`; -1 when none is. */
  find(b: Buffer, v: DataView<ArrayBufferLike>, at: number, end: number): number {
    const heads = this.heads;
    for (let id = 0; id < heads.length; id++) {
      const head = heads[id]!;
      if (!bytesAt(v, at, end, head)) continue;
      const whole = this.whole[id]!;
      if (whole.length === head.length) return id;
      if (at + whole.length > end) continue;
      let k = head.length;
      while (k < whole.length && b[at + k] === whole[k]) k++;
      if (k === whole.length) return id;
    }
    return -1;
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
    this.heads.push(new Bytes(whole.subarray(0, Math.min(whole.length, MAX_WORD_BYTES))));
    this.whole.push(whole);
    this.strings.push(b.toString(high ? 'utf8' : 'latin1', start, end));
    return this.strings.length - 1;
  }
}

const AFTER = Buffer.from('","');
export const UNTAGGED = -2;
