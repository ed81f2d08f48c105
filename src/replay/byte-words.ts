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

export const MAX_WORD_BYTES = 20;

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

/** True when `k`'s bytes are at `at`, wholly before `end`. */
export function bytesAt(v: DataView<ArrayBufferLike>, at: number, end: number, k: Bytes): boolean {
  return (
    at + k.length <= end &&
    v.getInt32(at, true) === k.w0 &&
    v.getInt32(at + k.o1, true) === k.w1 &&
    v.getInt32(at + k.o2, true) === k.w2 &&
    v.getInt32(at + k.o3, true) === k.w3 &&
    v.getInt32(at + k.o4, true) === k.w4
  );
}
