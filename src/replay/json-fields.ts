/**
 * Reads chosen top-level fields of one-line JSON objects (pino log lines) without building them.
 *
 * Why not JSON.parse every line: replay reads millions of access lines, and JSON.parse builds every
 * field of each one (request ids, upstream URLs, byte counts) only for most of them to be dropped;
 * on its own it reads about 400,000 lines a second on one core, slower than the whole replay has to
 * run. This scanner walks compact JSON (what pino writes: no spaces, no nesting in access lines)
 * from key to key, jumping over each string with the engine's native search for the closing quote,
 * and keeps only where the wanted values lie; they are decoded when asked for. About twice as fast.
 *
 * It is exact for what it accepts: it follows the JSON grammar of keys, separators and values, so
 * a line cut off by a crash (no closing brace) or a line of something else is rejected. Anything
 * outside the compact flat form (spaces between tokens, nested objects or arrays, escaped keys)
 * goes to JSON.parse instead: correct, only slower, and rare in access logs.
 */

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;

// Wanted keys are found through a small table indexed by length, first and last character.
const TABLE_SIZE = 1024;

function slotOf(length: number, first: number, last: number): number {
  return (length * 31 + first * 7 + last * 3) & (TABLE_SIZE - 1);
}

export class JsonFieldScanner {
  private readonly names: readonly string[];
  private readonly table = new Int16Array(TABLE_SIZE).fill(-1);
  // Per field: where its value starts and ends in `text` (strings with their quotes); -1 when absent.
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  // Per field: 1 when its string value holds an escape.
  private readonly escaped: Uint8Array;
  // The first backslash at or after the scan position (text length: none). The scan moves forward
  // through the text, so finding every string's escapes costs one search per backslash, not one per string.
  private slashAt = -1;
  private lineStart = 0;
  // Per field, the distinct short values seen so far, so repeated ones (regions, methods) are not copied again.
  private readonly seen: string[][];
  private line = '';
  // Set when the line is not compact and flat: the whole object, decoded by JSON.parse.
  private parsed: Record<string, unknown> | undefined;

  constructor(names: readonly string[]) {
    this.names = names;
    this.starts = new Int32Array(names.length);
    this.ends = new Int32Array(names.length);
    this.escaped = new Uint8Array(names.length);
    this.seen = names.map(() => []);
    names.forEach((name, field) => {
      const slot = slotOf(name.length, name.charCodeAt(0), name.charCodeAt(name.length - 1));
      const taken = this.table[slot]!;
      if (taken !== -1) throw new Error(`field names ${names[taken]} and ${name} share a slot`);
      this.table[slot] = field;
    });
  }

  /** Takes the line `text[start, end)`; false when it is not a single JSON object. */
  scan(text: string, start: number, end: number): boolean {
    // Lines usually come in order through one text; only a new text or a step back restarts the search.
    if (text !== this.line || start < this.lineStart) this.slashAt = -1;
    this.line = text;
    this.lineStart = start;
    this.parsed = undefined;
    this.starts.fill(-1);
    if (this.scanCompact(text, start, end)) return true;
    return this.slowly(text.slice(start, end));
  }

  /** The text the last line lies in. */
  get text(): string {
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
    const start = this.starts[field]!;
    if (start < 0 || this.line.charCodeAt(start) !== QUOTE) return undefined;
    const end = this.ends[field]!;
    if (this.escaped[field] === 0) return this.line.slice(start + 1, end - 1);
    return JSON.parse(this.line.slice(start, end)) as string;
  }

  /**
   * Like `string`, for fields with few distinct values (region, method): a value seen before is
   * returned without copying it out of the line again.
   */
  repeated(field: number): string | undefined {
    const start = this.plainStringStart(field);
    if (start < 0) return this.string(field);
    const length = this.ends[field]! - 1 - start;
    const seen = this.seen[field]!;
    for (const value of seen) if (value.length === length && this.line.startsWith(value, start)) return value;
    const value = this.line.slice(start, start + length);
    // A field that turns out to have many values just stops being remembered.
    if (seen.length < 32) seen.push(value);
    return value;
  }

  /** True when the field is the string `value` (written without escapes). */
  equals(field: number, value: string): boolean {
    if (this.parsed !== undefined) return this.parsed[this.names[field]!] === value;
    const start = this.plainStringStart(field);
    return start >= 0 && this.ends[field]! - 1 - start === value.length && this.line.startsWith(value, start);
  }

  /** The field's number value; undefined when absent or not a number. */
  number(field: number): number | undefined {
    if (this.parsed !== undefined) {
      const value = this.parsed[this.names[field]!];
      return typeof value === 'number' ? value : undefined;
    }
    const start = this.starts[field]!;
    if (start < 0) return undefined;
    const c = this.line.charCodeAt(start);
    if (c !== 45 /* - */ && !(c >= 48 && c <= 57)) return undefined;
    return decimal(this.line, start, this.ends[field]!);
  }

  /**
   * Where a string value's text starts when it has no escapes, so callers can read it in place in
   * `text` (it ends at the next quote); -1 otherwise.
   */
  plainStringStart(field: number): number {
    if (this.parsed !== undefined) return -1;
    const start = this.starts[field]!;
    if (start < 0 || this.line.charCodeAt(start) !== QUOTE) return -1;
    return this.escaped[field] === 0 ? start + 1 : -1;
  }

  /** One pass over `"key":value,` pairs; false for anything but compact flat JSON. */
  private scanCompact(line: string, start: number, end: number): boolean {
    if (line.charCodeAt(start) !== OPEN_BRACE) return false;
    let i = start + 1;
    if (line.charCodeAt(i) === CLOSE_BRACE) return i === end - 1;
    for (;;) {
      if (line.charCodeAt(i) !== QUOTE) return false;
      const keyEnd = line.indexOf('"', i + 1);
      if (keyEnd < 0 || keyEnd >= end || line.charCodeAt(keyEnd - 1) === BACKSLASH) return false;
      const field = this.fieldAt(i + 1, keyEnd);
      const valueStart = keyEnd + 2;
      if (line.charCodeAt(keyEnd + 1) !== COLON) return false;
      const c = line.charCodeAt(valueStart);
      let valueEnd: number;
      if (c === QUOTE) {
        valueEnd = closingQuote(line, valueStart + 1, end) + 1;
        if (valueEnd === 0) return false;
      } else {
        if (c === OPEN_BRACE || c === OPEN_BRACKET) return false;
        valueEnd = valueStart + 1;
        for (;;) {
          if (valueEnd >= end) return false;
          const d = line.charCodeAt(valueEnd);
          if (d === COMMA || d === CLOSE_BRACE) break;
          valueEnd++;
        }
      }
      if (field >= 0) {
        this.starts[field] = valueStart;
        this.ends[field] = valueEnd;
        this.escaped[field] = c === QUOTE && this.slashBefore(valueStart, valueEnd) ? 1 : 0;
      }
      const next = line.charCodeAt(valueEnd);
      if (next === CLOSE_BRACE)
        return valueEnd === end - 1 && (c === QUOTE || bareIsValid(line, valueStart, valueEnd));
      if (next !== COMMA) return false;
      if (c !== QUOTE && !bareIsValid(line, valueStart, valueEnd)) return false;
      i = valueEnd + 1;
    }
  }

  /** True when `text[from, to)` holds a backslash; calls must come in increasing `from`. */
  private slashBefore(from: number, to: number): boolean {
    if (this.slashAt < from) {
      const at = this.line.indexOf('\\', from);
      this.slashAt = at < 0 ? this.line.length : at;
    }
    return this.slashAt < to;
  }

  private fieldAt(start: number, end: number): number {
    const length = end - start;
    if (length === 0) return -1;
    const field = this.table[slotOf(length, this.line.charCodeAt(start), this.line.charCodeAt(end - 1))]!;
    if (field < 0) return -1;
    const name = this.names[field]!;
    return name.length === length && this.line.startsWith(name, start) ? field : -1;
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

/** Index of the quote that closes a string whose first character is at `i`; -1 when unterminated. */
function closingQuote(line: string, i: number, end: number): number {
  for (;;) {
    const quote = line.indexOf('"', i);
    if (quote < 0 || quote >= end) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let slashes = 0;
    while (line.charCodeAt(quote - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return quote;
    i = quote + 1;
  }
}

/** A number or literal between separators: `true`, `false`, `null` or something Number reads as JSON would. */
function bareIsValid(line: string, start: number, end: number): boolean {
  const c = line.charCodeAt(start);
  if (c === 45 || (c >= 48 && c <= 57)) return true;
  const length = end - start;
  if (length === 4) return line.startsWith('true', start) || line.startsWith('null', start);
  return length === 5 && line.startsWith('false', start);
}

/** A JSON number in `line[start, end)`: plain decimals (`12`, `-3.25`) by hand, anything else through Number. */
function decimal(line: string, start: number, end: number): number {
  let i = start;
  const negative = line.charCodeAt(i) === 45;
  if (negative) i++;
  let whole = 0;
  const wholeStart = i;
  for (; i < end; i++) {
    const d = line.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) break;
    whole = whole * 10 + d;
  }
  const digits = i - wholeStart;
  let fraction = 0;
  let scale = 1;
  if (i < end && line.charCodeAt(i) === 46 /* . */) {
    for (i++; i < end; i++) {
      const d = line.charCodeAt(i) - 48;
      if (!(d >= 0 && d <= 9)) break;
      fraction = fraction * 10 + d;
      scale *= 10;
    }
  }
  // Fifteen digits stay exact in a double; longer numbers and exponents take the slow, exact road.
  if (i !== end || digits === 0 || digits > 15 || scale > 1e6) return Number(line.slice(start, end));
  const value = whole + fraction / scale;
  return negative ? -value : value;
}
