/**
 * Runs of bytes compared as four-byte words: replay checks a key or a known value where it must
 * be with a handful of loads instead of a loop over every byte (see floodgate-line.ts).
 */

/** A constant run of 4 to 20 bytes, kept as five overlapping little-endian words. */
export class Bytes {
  readonly length: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly w4: number;
  readonly o1: number;
  readonly o2: number;
  readonly o3: number;
  readonly o4: number;

  constructor(b: Uint8Array) {
    if (b.length < 4 || b.length > MAX_WORD_BYTES) throw new Error(`a run of ${b.length} bytes`);
    const view = new DataView(b.buffer, b.byteOffset, b.length);
    this.length = b.length;
    const at = (k: number) => Math.min(4 * k, b.length - 4);
    [this.o1, this.o2, this.o3, this.o4] = [at(1), at(2), at(3), at(4)];
    [this.w0, this.w1, this.w2, this.w3, this.w4] = [0, this.o1, this.o2, this.o3, this.o4].map((o) =>
      view.getInt32(o, true),
    ) as [number, number, number, number, number];
  }

  static of(text: string): Bytes {
    return new Bytes(Buffer.from(text, 'latin1'));
  }
}

const MAX_WORD_BYTES = 20;

/**
 * A run of bytes of any length (a route prefix, a known value), found in place: its first twenty
 * bytes as words, any beyond them one by one.
 */
export class ByteRun {
  readonly bytes: Uint8Array;
  private readonly head: Bytes | undefined;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.head =
      bytes.length < 4 ? undefined : new Bytes(bytes.subarray(0, Math.min(bytes.length, MAX_WORD_BYTES)));
  }

  /** The run's first four bytes as a word; 0 for a shorter run. */
  get firstWord(): number {
    return this.head?.w0 ?? 0;
  }

  /** True when the run's bytes are at `at` in `b`, wholly before `end`. */
  isAt(v: DataView<ArrayBufferLike>, b: Uint8Array, at: number, end: number): boolean {
    const whole = this.bytes;
    if (at + whole.length > end) return false;
    let k = 0;
    if (this.head !== undefined) {
      if (!bytesAt(v, at, end, this.head)) return false;
      k = this.head.length;
    }
    while (k < whole.length && b[at + k] === whole[k]) k++;
    return k === whole.length;
  }
}

/**
 * A DataView of the buffer last asked about: replay reads a chunk's lines one after another, so a
 * view is made once per chunk, not once per line.
 */
export class ChunkView {
  private bytes: Uint8Array | undefined;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  of(b: Uint8Array): DataView<ArrayBufferLike> {
    if (b !== this.bytes) {
      this.bytes = b;
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return this.view;
  }
}

/**
 * True when `k`'s bytes are at `at`, wholly before `end`. Only as many words as cover the run are
 * read: most keys are 9 to 14 bytes, and the words repeated to fill five were a fifth of the reader.
 */
export function bytesAt(v: DataView<ArrayBufferLike>, at: number, end: number, k: Bytes): boolean {
  const n = k.length;
  if (at + n > end || v.getInt32(at, true) !== k.w0 || v.getInt32(at + k.o1, true) !== k.w1) return false;
  if (n <= 8) return true;
  if (v.getInt32(at + k.o2, true) !== k.w2) return false;
  if (n <= 12) return true;
  if (v.getInt32(at + k.o3, true) !== k.w3) return false;
  return n <= 16 || v.getInt32(at + k.o4, true) === k.w4;
}

const QUOTE = 34;
const ONES = 0x01010101;
const HIGHS = 0x80808080 | 0;
const QUOTES = 0x22222222;
const SPACES = 0x20202020;

/**
 * Where the JSON string whose bytes start at `at` closes: the index of its first quote, or -1 when
 * a control character comes first or no quote comes before `end`. The caller has ruled out escapes.
 *
 * Four bytes a step (a word with a quote or a byte below 0x20 in it is found with the usual
 * borrow trick): the values it passes over (request ids, upstreams, paths) are a dozen bytes to
 * a hundred, where this takes about half the time of a byte loop (40 or 90 bytes; the same for
 * 6), and a native search costs more than either for strings this short.
 * The borrow can flag a byte above a real match, never below it, so a flagged word holds one.
 */
export function closingQuote(v: DataView<ArrayBufferLike>, b: Uint8Array, at: number, end: number): number {
  let j = at;
  for (; j + 4 <= end; j += 4) {
    const x = v.getInt32(j, true);
    const q = x ^ QUOTES;
    // The word holds the match: its bytes, one by one, say which and where. Working it out from the
    // flags takes a negation, which leaves 32-bit integers when only the top byte is flagged.
    if (((((q - ONES) & ~q) | ((x - SPACES) & ~x)) & HIGHS) !== 0) break;
  }
  for (; j < end; j++) {
    const c = b[j]!;
    if (c === QUOTE) return j;
    if (c < 32) return -1;
  }
  return -1;
}
