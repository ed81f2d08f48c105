import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRun, closingQuote } from '../../src/replay/byte-words.js';

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** What closingQuote must say, one byte at a time. */
function quoteByBytes(b: Uint8Array, at: number, end: number): number {
  for (let j = at; j < end; j++) {
    if (b[j] === 34) return j;
    if (b[j]! < 32) return -1;
  }
  return -1;
}

// Quotes, control characters, bytes just above them and bytes above ASCII, where words straddle them.
const bytes = fc.uint8Array({ maxLength: 40 }).chain((raw) =>
  fc
    .array(fc.constantFrom(34, 0, 10, 31, 32, 33, 35, 0x80, 0xa2, 0xff), { maxLength: raw.length })
    .map((specials) => {
      const b = Uint8Array.from(raw);
      for (const [i, c] of specials.entries()) b[(i * 7) % b.length] = c;
      return b;
    }),
);

describe('closingQuote', () => {
  it('finds the first quote, or -1 when a control character or the end comes first', () => {
    fc.assert(
      fc.property(bytes, fc.nat(), fc.nat(), (b, x, y) => {
        const at = b.length === 0 ? 0 : x % (b.length + 1);
        const end = at + (y % (b.length - at + 1));
        expect(closingQuote(view(b), b, at, end)).toBe(quoteByBytes(b, at, end));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a word past a control character as the control character it is', () => {
    const b = Buffer.from('abc\u0001"def"');
    expect(closingQuote(view(b), b, 0, b.length)).toBe(-1);
    expect(closingQuote(view(b), b, 4, b.length)).toBe(4);
    expect(closingQuote(view(b), b, 5, b.length)).toBe(8);
    expect(closingQuote(view(b), b, 5, 8)).toBe(-1);
  });
});

describe('ByteRun', () => {
  it('is found exactly where its bytes are, whatever its length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 30 }), bytes, fc.nat(), (run, b, x) => {
        const at = x % (b.length + 1);
        const placed = Uint8Array.from([...b.subarray(0, at), ...run, ...b.subarray(at)]);
        const found = new ByteRun(run);
        expect(found.isAt(view(placed), placed, at, placed.length)).toBe(true);
        expect(found.isAt(view(placed), placed, at, at + run.length - 1)).toBe(false);
        for (let k = 0; k < placed.length; k++) {
          const here = placed.subarray(k, k + run.length);
          const same = here.length === run.length && here.every((c, i) => c === run[i]);
          expect(found.isAt(view(placed), placed, k, placed.length)).toBe(same);
        }
      }),
      { numRuns: 500 },
    );
  });

  // Every byte counts, whichever word covers it.
  it('is not found where any one of its bytes differs', () => {
    for (let length = 1; length <= 30; length++) {
      const run = Uint8Array.from({ length }, (_, i) => 65 + i);
      const found = new ByteRun(run);
      for (let p = 0; p < length; p++) {
        const other = Uint8Array.from([0, ...run, 0]);
        other[1 + p]! ^= 1;
        expect(found.isAt(view(other), other, 1, other.length), `length ${length}, byte ${p}`).toBe(false);
        other[1 + p]! ^= 1;
        expect(found.isAt(view(other), other, 1, other.length)).toBe(true);
      }
    }
  });
});
