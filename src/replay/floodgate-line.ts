/**
 * Reads an access line laid out exactly as src/observability/access-log.ts writes it, without
 * walking every byte of it.
 *
 * Why: even the general scanner (json-fields.ts) looks at each of a line's ~280 bytes in a JS loop,
 * and that loop alone cost more than a third of replay's time. Floodgate writes its keys in one
 * order, so each key is checked where it must be (four-byte words through a DataView, a few loads
 * per key), values with few distinct values are recognised in place, the other strings are passed
 * over four bytes at a time to their closing quote (byte-words.ts), and only the client (and a value
 * the first time it is seen) is looked at byte by byte.
 *
 * What makes skipping safe: a line holding a backslash (an escape anywhere) is never read here, so
 * every quote found closes a string; keys must then follow at the exact byte, and the line must end
 * with `"bytes":N}`. Anything else (another layout, a cut-off line, an escape, an exponent, a raw
 * control character in a string, which JSON.parse refuses) returns false and the caller reads the
 * line the general way. Every string's bytes and the time are checked.
 */
import { Bytes, bytesAt, closingQuote } from './byte-words.js';
import { HASH_START } from './interned-strings.js';
import { IsoTimes } from './iso-times.js';
import { plainNumberEnd } from './json-number.js';
import { KnownValues } from './known-values.js';

const QUOTE = 34;
const BACKSLASH = 92;
const CLOSE_BRACE = 125;

const LEVEL = Bytes.of('{"level":"info",');
const TIME = Bytes.of('"time":"');
const WORKER = Bytes.of(',"worker":');
const REGION = Bytes.of(',"region":"');
const STATUS = Bytes.of(',"status":');
const OUTCOME = Bytes.of(',"outcome":"');
const PRIORITY = Bytes.of(',"priority":"');
const DURATION = Bytes.of(',"durationMs":');
const METHOD = Bytes.of(',"method":"');
const PATH = Bytes.of(',"path":"');
const REQUEST_ID = Bytes.of(',"requestId":"');
const CLIENT = Bytes.of(',"client":"');
const REASON = Bytes.of(',"reason":"');
const UPSTREAM = Bytes.of(',"upstream":"');
const FAILOVER_FROM = Bytes.of(',"failoverFrom":"');
const WAIT = Bytes.of(',"waitMs":');
const BYTES = Bytes.of(',"bytes":');

/** The string values a line's reader hands on, by where they lie. */
export const [F_REGION, F_OUTCOME, F_PRIORITY, F_METHOD, F_PATH, F_CLIENT, F_FAILOVER_FROM, F_REASON] = [
  0, 1, 2, 3, 4, 5, 6, 7,
];
const STRING_FIELDS = 8;

/**
 * Where the last line's values lie (strings without their quotes). One instance per log: it keeps
 * a view of the buffer lines are read from, the next backslash in it, and the last whole second of
 * `time` decoded, since consecutive lines almost always share it.
 */
export class FloodgateLine {
  /** `time` as epoch ms. */
  time = 0;
  status = 0;
  durationMs = 0;
  /** 0 when the line has none. */
  waitMs = 0;
  // The last decimal read.
  private number = 0;
  /** The client's bytes' `bytesHash` (interned-strings.ts), worked out while they are walked. */
  clientHash = 0;
  /** Per string field: start and end in `bytes`; start -1 when absent. */
  readonly starts = new Int32Array(STRING_FIELDS);
  readonly ends = new Int32Array(STRING_FIELDS);
  /** Per string field: 1 when it holds bytes above ASCII (only for the short ones, not the path). */
  readonly high = new Uint8Array(STRING_FIELDS);
  /** Per field with few values: which of its table's values it is (failoverFrom's table is the regions'). */
  readonly ids = new Int32Array(STRING_FIELDS);
  readonly regions = new KnownValues();
  readonly outcomes = new KnownValues();
  readonly priorities = new KnownValues();
  readonly methods = new KnownValues();
  readonly reasons = new KnownValues();
  // By field: its table of values (failoverFrom's is the regions'; the path and client have none).
  private readonly tables = [
    this.regions,
    this.outcomes,
    this.priorities,
    this.methods,
    undefined,
    undefined,
    this.regions,
    this.reasons,
  ];
  bytes: Buffer = Buffer.alloc(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  // The first backslash at or after `escapeFrom` (the buffer's length when none): one native search
  // serves every line up to it, so no line is searched twice.
  private escapeFrom = 0;
  private nextEscape = -1;
  private readonly times = new IsoTimes();
  // The fields of the line being read whose values no table knows yet.
  private readonly unknownFields = new Int32Array(STRING_FIELDS);
  private unknown = 0;

  /** Reads `b[start, end)`; false when it is not in Floodgate's layout (or holds an escape). */
  read(b: Buffer, start: number, end: number): boolean {
    this.unknown = 0;
    return this.layout(b, start, end) && this.learnUnknown(end);
  }

  /**
   * Values seen for the first time are learnt only once their whole line has been read: a run of
   * cut-off or foreign lines must not fill a table (32 values) and send every later line the slow way.
   */
  private learnUnknown(end: number): boolean {
    for (let k = 0; k < this.unknown; k++) {
      const field = this.unknownFields[k]!;
      const table = this.tables[field]!;
      const from = this.starts[field]!;
      // failoverFrom may be the region just learnt from the same line.
      let id = table.find(this.bytes, this.view, from, end);
      if (id < 0) id = table.learn(this.bytes, from, this.ends[field]!, this.high[field] === 1);
      // A field with more values than a table holds is for the general path.
      if (id < 0) return false;
      this.ids[field] = id;
    }
    return true;
  }

  private layout(b: Buffer, start: number, end: number): boolean {
    if (b !== this.bytes) this.take(b);
    if (start < this.escapeFrom || this.nextEscape < start) {
      const at = b.indexOf(BACKSLASH, start);
      this.escapeFrom = start;
      this.nextEscape = at < 0 ? b.length : at;
    }
    if (this.nextEscape < end) return false;
    const v = this.view;
    if (!bytesAt(v, start, end, LEVEL) || !bytesAt(v, start + LEVEL.length, end, TIME)) return false;
    let at = start + LEVEL.length + TIME.length;
    if (!this.times.read(b, at, end)) return false;
    this.time = this.times.time;
    at += 25;
    if (bytesAt(v, at, end, WORKER)) {
      at = plainNumberEnd(b, at + WORKER.length, end);
      if (at < 0) return false;
    }
    at = this.known(at, end, REGION, this.regions, F_REGION);
    if (at < 0 || !bytesAt(v, at, end, STATUS)) return false;
    at = this.integer(at + STATUS.length, end);
    if (at < 0) return false;
    at = this.known(at, end, OUTCOME, this.outcomes, F_OUTCOME);
    if (at >= 0) at = this.known(at, end, PRIORITY, this.priorities, F_PRIORITY);
    if (at < 0 || !bytesAt(v, at, end, DURATION)) return false;
    at = this.decimal(at + DURATION.length, end);
    this.durationMs = this.number;
    if (at >= 0) at = this.known(at, end, METHOD, this.methods, F_METHOD);
    if (at >= 0) at = this.path(at, end);
    if (at >= 0) at = this.skipped(at, end, REQUEST_ID);
    if (at >= 0) at = this.short(at, end, CLIENT, F_CLIENT);
    if (at < 0) return false;
    // The optional fields: when one's key is there but its value is not as expected, `at` stays on
    // that key, and the check for `bytes` fails.
    this.starts[F_REASON] = -1;
    at = orSame(this.known(at, end, REASON, this.reasons, F_REASON), at);
    at = orSame(this.skipped(at, end, UPSTREAM), at);
    this.starts[F_FAILOVER_FROM] = -1;
    at = orSame(this.known(at, end, FAILOVER_FROM, this.regions, F_FAILOVER_FROM), at);
    this.waitMs = 0;
    if (bytesAt(v, at, end, WAIT)) {
      at = this.decimal(at + WAIT.length, end);
      if (at < 0) return false;
      this.waitMs = this.number;
    }
    if (!bytesAt(v, at, end, BYTES)) return false;
    at = plainNumberEnd(b, at + BYTES.length, end);
    return at === end - 1 && b[at] === CLOSE_BRACE;
  }

  private take(b: Buffer): void {
    this.bytes = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.escapeFrom = 0;
    this.nextEscape = -1;
  }

  /**
   * After `key`, a value of a field with few values: recognised in place when it is one seen
   * before, else walked like any short string and learnt. Returns where it ends.
   */
  private known(at: number, end: number, key: Bytes, table: KnownValues, field: number): number {
    if (!bytesAt(this.view, at, end, key)) return -1;
    const from = at + key.length;
    const id = table.find(this.bytes, this.view, from, end);
    if (id >= 0) {
      const valueEnd = from + table.byteLength(id);
      this.ids[field] = id;
      this.starts[field] = from;
      this.ends[field] = valueEnd;
      return valueEnd + 1;
    }
    const after = this.short(at, end, key, field);
    if (after < 0) return -1;
    this.unknownFields[this.unknown++] = field;
    return after;
  }

  /**
   * After `key`, a short string: walked byte by byte, since it is kept (and a walk of a few bytes
   * costs less than a native call); control characters send the line back. Its bytes are hashed on
   * the way, which the client's interning uses. Returns where it ends.
   */
  private short(at: number, end: number, key: Bytes, field: number): number {
    if (!bytesAt(this.view, at, end, key)) return -1;
    const b = this.bytes;
    const from = at + key.length;
    let high = 0;
    let hash = HASH_START;
    let j = from;
    for (; j < end; j++) {
      const c = b[j]!;
      if (c === QUOTE) break;
      if (c < 32) return -1;
      high |= c;
      // interned-strings.ts's hashStep, inline: a call to an imported function is checked again at every byte.
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (j === end) return -1;
    this.starts[field] = from;
    this.ends[field] = j;
    this.high[field] = high >> 7;
    if (field === F_CLIENT) this.clientHash = hash;
    return j + 1;
  }

  /** After `key`, a string replay does not keep, passed over to its closing quote. */
  private skipped(at: number, end: number, key: Bytes): number {
    if (!bytesAt(this.view, at, end, key)) return -1;
    const quote = closingQuote(this.view, this.bytes, at + key.length, end);
    return quote < 0 ? -1 : quote + 1;
  }

  /** The path: kept (it is matched against routes), so a control character in it sends the line back. */
  private path(at: number, end: number): number {
    if (!bytesAt(this.view, at, end, PATH)) return -1;
    const from = at + PATH.length;
    const quote = closingQuote(this.view, this.bytes, from, end);
    if (quote < 0) return -1;
    this.starts[F_PATH] = from;
    this.ends[F_PATH] = quote;
    return quote + 1;
  }

  /** `status`: digits only, no leading zero. */
  private integer(at: number, end: number): number {
    const b = this.bytes;
    let value = 0;
    let j = at;
    for (; j < end && b[j]! >= 48 && b[j]! <= 57; j++) value = value * 10 + b[j]! - 48;
    if (j === at || j - at > 9 || (b[at] === 48 && j > at + 1)) return -1;
    this.status = value;
    return j;
  }

  /**
   * `durationMs` or `waitMs`, into `number`: a plain decimal, not negative (a negative one is
   * for the general path to refuse), checked and read in one pass: the arithmetic of
   * json-number.ts's `decimal`, so the same value.
   */
  private decimal(at: number, end: number): number {
    const b = this.bytes;
    let j = at;
    let whole = 0;
    // Digits compared inline: a call to an imported function is checked again at every byte.
    for (; j < end && b[j]! >= 48 && b[j]! <= 57; j++) whole = whole * 10 + b[j]! - 48;
    const digits = j - at;
    if (digits === 0 || (b[at] === 48 && digits > 1)) return -1;
    let fraction = 0;
    let scale = 1;
    if (j < end && b[j] === 46 /* . */) {
      const first = ++j;
      for (; j < end && b[j]! >= 48 && b[j]! <= 57; j++) {
        fraction = fraction * 10 + b[j]! - 48;
        scale *= 10;
      }
      if (j === first) return -1;
    }
    const scaled = whole * scale + fraction;
    this.number =
      digits > 15 || scale > 1e6 || scaled > Number.MAX_SAFE_INTEGER
        ? Number(b.toString('latin1', at, j))
        : scaled / scale;
    return j;
  }
}

function orSame(next: number, at: number): number {
  return next < 0 ? at : next;
}
