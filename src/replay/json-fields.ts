/**
 * Reads chosen top-level fields of one-line JSON objects (pino log lines) without building them.
 *
 * Why not JSON.parse every line: replay reads millions of access lines, and JSON.parse builds every
 * field of each one (request ids, upstream URLs, byte counts) only for most of them to be dropped;
 * on its own it reads about 400,000 lines a second on one core, slower than the whole replay has to
 * run. This scanner walks the raw bytes of compact JSON (what pino writes: no spaces, no nesting in
 * access lines) once, and keeps only where the wanted values lie; they are decoded when asked for.
 * Bytes, not a decoded string: a loop over a Uint8Array costs a fraction of one over charCodeAt,
 * and the log never has to be decoded as a whole.
 *
 * Keys are not looked up one by one. A writer puts its fields in the same order on every line, so
 * the scanner remembers which key followed which on the lines before and checks the expected key's
 * bytes in place; only a surprise sends it to find and identify the key.
 *
 * It is exact for what it accepts: it checks the JSON grammar of keys, separators and values as it
 * goes (strict numbers, literals, strings without control characters), so a line cut off by a crash
 * (no closing brace) or a line of something else is rejected. Anything else (spaces between tokens,
 * nested objects or arrays, escapes, exponents) goes to JSON.parse instead: correct, only slower,
 * and rare in access logs.
 */

import { decimal, plainNumberEnd } from './json-number.js';

const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const ZERO = 48;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

// What a byte inside a string is: plain, the closing quote, or something the fast path leaves to JSON.parse.
const PLAIN = 0;
const CLOSES = 1;
const HIGH = 2;
const STOP = 3;
const CLASS = new Uint8Array(256);
for (let c = 0; c < 32; c++) CLASS[c] = STOP;
CLASS[QUOTE] = CLOSES;
CLASS[92 /* \ */] = STOP;
for (let c = 128; c < 256; c++) CLASS[c] = HIGH;

const DIGIT = new Uint8Array(256);
for (let c = ZERO; c <= 57; c++) DIGIT[c] = 1;

/** Distinct keys remembered, for the prediction; a log with more simply identifies the rest each time. */
const MAX_KEYS = 62;
const UNLEARNED = MAX_KEYS + 1;

export class JsonFieldScanner {
  private readonly names: readonly string[];
  // Per field: where its value starts and ends in `bytes` (strings with their quotes); -1 when absent.
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  // Per field: 1 when its string value holds bytes above ASCII (it is then decoded as UTF-8).
  private readonly high: Uint8Array;
  // Keys seen so far, and the field each one is (-1: not wanted).
  private readonly keys: Uint8Array[] = [];
  // Each key as it is followed in a line, `key":`, so one compare checks the key and both separators.
  private readonly keyTails: Uint8Array[] = [];
  private readonly keyFields: number[] = [];
  // follows[0]: the first key of the last object; follows[k + 1]: the key that came after key k.
  private readonly follows = new Int16Array(MAX_KEYS + 2).fill(-1);
  // Per field, the distinct short values seen so far, so repeated ones (regions, methods) are not decoded again.
  private readonly seen: Array<Array<{ bytes: Uint8Array; value: string }>>;
  private line: Buffer = Buffer.alloc(0);
  // Set when the line is not compact and flat: the whole object, decoded by JSON.parse.
  private parsed: Record<string, unknown> | undefined;

  constructor(names: readonly string[]) {
    this.names = names;
    this.starts = new Int32Array(names.length);
    this.ends = new Int32Array(names.length);
    this.high = new Uint8Array(names.length);
    this.seen = names.map(() => []);
  }

  /** Takes the line `bytes[start, end)`; false when it is not a single JSON object. */
  scan(bytes: Buffer, start: number, end: number): boolean {
    this.line = bytes;
    this.parsed = undefined;
    const starts = this.starts;
    for (let field = 0; field < starts.length; field++) starts[field] = -1;
    if (this.scanCompact(bytes, start, end)) return true;
    return this.slowly(bytes.toString('utf8', start, end));
  }

  /** The bytes the last line lies in. */
  get bytes(): Buffer {
    return this.line;
  }

  /** True when the field was present, whatever its value. */
  has(field: number): boolean {
    if (this.parsed !== undefined) return Object.hasOwn(this.parsed, this.names[field]!);
    return this.starts[field] !== -1;
  }

  /** The field's string value; undefined when absent or not a string. */
  string(field: number): string | undefined {
    if (this.parsed !== undefined) {
      const value = this.parsed[this.names[field]!];
      return typeof value === 'string' ? value : undefined;
    }
    const start = this.plainStringStart(field);
    if (start < 0) return undefined;
    // Plain ASCII reads the same either way, and latin1 decodes it without validating UTF-8.
    return this.line.toString(this.high[field] === 0 ? 'latin1' : 'utf8', start, this.ends[field]! - 1);
  }

  /**
   * Like `string`, for fields with few distinct values (region, method): a value seen before is
   * returned without decoding it again.
   */
  repeated(field: number): string | undefined {
    const start = this.plainStringStart(field);
    if (start < 0) return this.string(field);
    const end = this.ends[field]! - 1;
    const seen = this.seen[field]!;
    for (const entry of seen) if (sameBytes(this.line, start, end, entry.bytes)) return entry.value;
    const value = this.string(field)!;
    // A field that turns out to have many values just stops being remembered.
    if (seen.length < 32) seen.push({ bytes: Uint8Array.prototype.slice.call(this.line, start, end), value });
    return value;
  }

  /** True when the field is the string `value` (ASCII). */
  equals(field: number, value: string): boolean {
    if (this.parsed !== undefined) return this.parsed[this.names[field]!] === value;
    const start = this.plainStringStart(field);
    if (start < 0 || this.ends[field]! - 1 - start !== value.length) return false;
    const line = this.line;
    for (let i = 0; i < value.length; i++) if (line[start + i] !== value.charCodeAt(i)) return false;
    return true;
  }

  /** The field's number value; undefined when absent or not a number. */
  number(field: number): number | undefined {
    if (this.parsed !== undefined) {
      const value = this.parsed[this.names[field]!];
      return typeof value === 'number' ? value : undefined;
    }
    const start = this.starts[field]!;
    if (start < 0) return undefined;
    const c = this.line[start]!;
    if (c !== MINUS && DIGIT[c] === 0) return undefined;
    return decimal(this.line, start, this.ends[field]!);
  }

  /** Where a string value's bytes start (they end at `valueEnd - 1`); -1 when not a string read in place. */
  plainStringStart(field: number): number {
    if (this.parsed !== undefined) return -1;
    const start = this.starts[field]!;
    if (start < 0 || this.line[start] !== QUOTE) return -1;
    return start + 1;
  }

  /** Where the field's value ends (after a string's closing quote). */
  valueEnd(field: number): number {
    return this.ends[field]!;
  }

  /** True when the field's string value has bytes above ASCII. */
  hasHighBytes(field: number): boolean {
    return this.high[field] === 1;
  }

  /** One pass over `"key":value,` pairs; false for anything but compact flat JSON. */
  private scanCompact(b: Buffer, start: number, end: number): boolean {
    if (b[start] !== OPEN_BRACE) return false;
    let i = start + 1;
    if (b[i] === CLOSE_BRACE) return i === end - 1;
    let after = 0;
    for (;;) {
      if (b[i] !== QUOTE) return false;
      let key = this.follows[after]!;
      let valueStart = key >= 0 ? this.afterKey(b, i + 1, end, key) : -1;
      if (valueStart < 0) {
        let keyEnd = i + 1;
        while (keyEnd < end && CLASS[b[keyEnd]!] === PLAIN) keyEnd++;
        if (keyEnd >= end || b[keyEnd] !== QUOTE || b[keyEnd + 1] !== COLON) return false;
        key = this.identify(b, i + 1, keyEnd);
        this.follows[after] = key === UNLEARNED ? -1 : key;
        valueStart = keyEnd + 2;
      }
      highSeen = 0;
      const valueEnd = valueAt(b, valueStart, end);
      if (valueEnd < 0) return false;
      const field = key === UNLEARNED ? this.fieldNamed(b, i + 1, valueStart - 2) : this.keyFields[key]!;
      if (field >= 0) {
        this.starts[field] = valueStart;
        this.ends[field] = valueEnd;
        this.high[field] = highSeen;
      }
      const next = b[valueEnd];
      if (next === CLOSE_BRACE) return valueEnd === end - 1;
      if (next !== COMMA) return false;
      i = valueEnd + 1;
      after = key === UNLEARNED ? UNLEARNED : key + 1;
    }
  }

  /** Where the value starts when learned key `key`, its closing quote and a colon are at `at`; -1 otherwise. */
  private afterKey(b: Buffer, at: number, end: number, key: number): number {
    const tail = this.keyTails[key]!;
    const valueStart = at + tail.length;
    if (valueStart >= end) return -1;
    for (let k = 0; k < tail.length; k++) if (b[at + k] !== tail[k]) return -1;
    return valueStart;
  }

  /** The learned key `b[start, end)`, learning it if there is room; UNLEARNED otherwise. */
  private identify(b: Buffer, start: number, end: number): number {
    const keys = this.keys;
    for (let key = 0; key < keys.length; key++) if (sameBytes(b, start, end, keys[key]!)) return key;
    if (keys.length === MAX_KEYS) return UNLEARNED;
    keys.push(Uint8Array.prototype.slice.call(b, start, end));
    this.keyTails.push(Buffer.concat([b.subarray(start, end), KEY_END]));
    this.keyFields.push(this.fieldNamed(b, start, end));
    return keys.length - 1;
  }

  private fieldNamed(b: Buffer, start: number, end: number): number {
    return this.names.findIndex(
      (name) => name.length === end - start && b.toString('latin1', start, end) === name,
    );
  }

  private slowly(line: string): boolean {
    try {
      const value: unknown = JSON.parse(line);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
      this.parsed = value as Record<string, unknown>;
      return true;
    } catch {
      return false;
    }
  }
}

// Set by valueAt when the string it passed over has bytes above ASCII.
let highSeen = 0;

/**
 * Where the value at `i` ends, -1 when the fast path does not take it: a string without escapes or
 * control characters, a plain decimal (`12`, `-3.25`: no exponent, no leading zero), or a literal.
 */
function valueAt(b: Buffer, i: number, end: number): number {
  const c = b[i]!;
  if (c === QUOTE) {
    for (let j = i + 1; j < end; j++) {
      const kind = CLASS[b[j]!]!;
      if (kind === PLAIN) continue;
      if (kind === CLOSES) return j + 1;
      if (kind === STOP) return -1;
      highSeen = 1;
    }
    return -1;
  }
  if (c === MINUS || DIGIT[c] === 1) return plainNumberEnd(b, i, end);
  if (c === 116 /* t */) return literal(b, i, end, TRUE);
  if (c === 102 /* f */) return literal(b, i, end, FALSE);
  if (c === 110 /* n */) return literal(b, i, end, NULL);
  return -1;
}

const KEY_END = Buffer.from('":');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function literal(b: Buffer, i: number, end: number, word: Uint8Array): number {
  return i + word.length < end && sameBytes(b, i, i + word.length, word) ? i + word.length : -1;
}

function sameBytes(b: Uint8Array, start: number, end: number, bytes: Uint8Array): boolean {
  if (end - start !== bytes.length) return false;
  for (let k = 0; k < bytes.length; k++) if (b[start + k] !== bytes[k]) return false;
  return true;
}
