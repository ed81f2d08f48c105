import { ChunkView } from './byte-words.js';
import { isDigit } from './json-number.js';

const QUOTE = 34;

// `YYYY-MM-DDTHH:MM:SS`: which of its 19 bytes are digits. Date.parse alone would take more (it
// skips some bytes JSON.parse refuses, a NUL among them).
const ISO_SECOND = 'dddd-dd-ddTdd:dd:dd';

/**
 * Reads `time` as pino's isoTime writes it, `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, on bytes. Consecutive
 * lines almost always share their second, so the last one decoded is kept as five words and
 * compared in place; only a new second is checked byte by byte and handed to Date.parse.
 */
export class IsoTimes {
  /** The last time read, as epoch ms. */
  time = 0;
  private readonly second = new Int32Array(5);
  private secondMs = Number.NaN;
  private readonly chunk = new ChunkView();

  /** Reads the 24 characters and closing quote at `at`; false when they are not such a time. */
  read(b: Buffer, at: number, end: number): boolean {
    if (
      at + 25 > end ||
      b[at + 24] !== QUOTE ||
      b[at + 19] !== 46 /* . */ ||
      b[at + 23] !== 90 /* Z */ ||
      !isDigit(b[at + 20]!) ||
      !isDigit(b[at + 21]!) ||
      !isDigit(b[at + 22]!)
    ) {
      return false;
    }
    const v = this.chunk.of(b);
    const s = this.second;
    if (
      v.getInt32(at, true) !== s[0] ||
      v.getInt32(at + 4, true) !== s[1] ||
      v.getInt32(at + 8, true) !== s[2] ||
      v.getInt32(at + 12, true) !== s[3] ||
      v.getInt32(at + 15, true) !== s[4] ||
      Number.isNaN(this.secondMs)
    ) {
      if (!isIsoSecond(b, at)) return false;
      for (let k = 0; k < 4; k++) s[k] = v.getInt32(at + 4 * k, true);
      s[4] = v.getInt32(at + 15, true);
      this.secondMs = Date.parse(`${b.toString('latin1', at, at + 19)}Z`);
      if (Number.isNaN(this.secondMs)) return false;
    }
    this.time = this.secondMs + (b[at + 20]! - 48) * 100 + (b[at + 21]! - 48) * 10 + b[at + 22]! - 48;
    return true;
  }
}

function isIsoSecond(b: Buffer, at: number): boolean {
  for (let k = 0; k < ISO_SECOND.length; k++) {
    const want = ISO_SECOND.charCodeAt(k);
    const c = b[at + k]!;
    if (want === 100 /* d */ ? !isDigit(c) : c !== want) return false;
  }
  return true;
}
