import { type Priority, parsePriority, priorityRank } from '../admission/priority.js';
import { JsonFieldScanner } from './json-fields.js';

/**
 * One access line as replay reads it. Times are epoch milliseconds. The parser fills the same
 * object for every line (nothing is allocated per line but the strings replay keeps), so it is
 * valid until the next line is parsed.
 */
export interface AccessLine {
  /** When the answer ended (`time`). */
  end: number;
  /** As logged; for a request refused live (shed, or answered stale) it says nothing about its upstream. */
  durationMs: number;
  refusedLive: boolean;
  /** The region whose limits the request met first: `failoverFrom` when present, else `region`. */
  home: string;
  method: string;
  /** The request target as logged (path and query). */
  path: string;
  /** The logged priority's rank, or -1 when none was logged. */
  loggedRank: number;
}

/** What a line turned out to be. */
export type LineKind = 'access' | 'other' | 'bad-input';

// Field names the scanner keeps; every other field is skipped without being decoded.
const FIELDS = [
  'time',
  'region',
  'status',
  'outcome',
  'priority',
  'durationMs',
  'method',
  'path',
  'client',
  'failoverFrom',
  'event',
] as const;
const [TIME, REGION, STATUS, OUTCOME, PRIORITY, DURATION, METHOD, PATH, CLIENT, FAILOVER_FROM, EVENT] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
];

/**
 * Turns log lines into records. One instance per log: it keeps the scanner and the last whole
 * second of `time` it decoded, since consecutive lines almost always share it.
 */
export class AccessLineParser {
  private readonly scanner = new JsonFieldScanner(FIELDS);
  private readonly line: AccessLine = {
    end: 0,
    durationMs: 0,
    refusedLive: false,
    home: '',
    method: '',
    path: '',
    loggedRank: -1,
  };
  // Never the start of a time, so the first line decodes its second.
  private secondPrefix = '\0';
  private secondMs = 0;

  /** The access line `text[start, end)`, or what else the line is. */
  parse(text: string, start = 0, end = text.length): AccessLine | Exclude<LineKind, 'access'> {
    const s = this.scanner;
    if (!s.scan(text, start, end) || s.has(EVENT)) return OTHER;
    const status = s.number(STATUS);
    const durationMs = s.number(DURATION);
    const region = s.repeated(REGION);
    const method = s.repeated(METHOD);
    const path = s.string(PATH);
    if (
      status === undefined ||
      durationMs === undefined ||
      !(durationMs >= 0) ||
      region === undefined ||
      method === undefined ||
      path === undefined
    ) {
      return OTHER;
    }
    const endedAt = this.time(s);
    if (endedAt === undefined) return OTHER;
    // A 4xx of our own (malformed, too large) was refused before admission, whatever the limits.
    if (status >= 400 && status < 500 && s.equals(OUTCOME, 'error')) return BAD_INPUT;
    const line = this.line;
    line.end = endedAt;
    line.durationMs = durationMs;
    line.refusedLive = s.equals(OUTCOME, 'shed') || s.equals(OUTCOME, 'stale');
    line.home = s.repeated(FAILOVER_FROM) ?? region;
    line.method = method;
    line.path = path;
    line.loggedRank = loggedRank(s);
    return line;
  }

  /** The last access line's `client`, when it has one. Read only when needed: most replays do not. */
  client(): string | undefined {
    return this.scanner.string(CLIENT);
  }

  /** `time` as epoch ms: pino's ISO string (its whole second cached), or a number of ms. */
  private time(s: JsonFieldScanner): number | undefined {
    const line = s.text;
    const at = s.plainStringStart(TIME);
    if (at < 0 || !isPlainUtcMillis(line, at)) {
      const numeric = s.number(TIME);
      if (numeric !== undefined) return numeric;
      const parsed = Date.parse(s.string(TIME) ?? '');
      return Number.isFinite(parsed) ? parsed : undefined;
    }
    if (!line.startsWith(this.secondPrefix, at)) {
      this.secondPrefix = line.slice(at, at + 19);
      this.secondMs = Date.parse(`${this.secondPrefix}Z`);
    }
    return Number.isFinite(this.secondMs) ? this.secondMs + digits3(line, at + 20) : undefined;
  }
}

const PRIORITY_NAMES: readonly Priority[] = ['critical', 'high', 'normal', 'low'];

function loggedRank(s: JsonFieldScanner): number {
  for (const name of PRIORITY_NAMES) if (s.equals(PRIORITY, name)) return priorityRank(name);
  const other = parsePriority(s.string(PRIORITY));
  return other === undefined ? -1 : priorityRank(other);
}

const OTHER = 'other';
const BAD_INPUT = 'bad-input';

/** A string value `YYYY-MM-DDTHH:MM:SS.mmmZ` at `at`, the shape pino's isoTime writes. */
function isPlainUtcMillis(text: string, at: number): boolean {
  return (
    text.charCodeAt(at + 24) === 34 /* " */ &&
    text.charCodeAt(at + 19) === 46 /* . */ &&
    text.charCodeAt(at + 23) === 90 /* Z */ &&
    text.charCodeAt(at + 10) === 84 /* T */ &&
    isDigit(text.charCodeAt(at + 20)) &&
    isDigit(text.charCodeAt(at + 21)) &&
    isDigit(text.charCodeAt(at + 22))
  );
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function digits3(text: string, at: number): number {
  return (
    (text.charCodeAt(at) - 48) * 100 + (text.charCodeAt(at + 1) - 48) * 10 + text.charCodeAt(at + 2) - 48
  );
}
