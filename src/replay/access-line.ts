import { parsePriority, priorityRank } from '../admission/priority.js';
import { ByteRun, ChunkView } from './byte-words.js';
import {
  F_CLIENT,
  F_FAILOVER_FROM,
  F_METHOD,
  F_OUTCOME,
  F_PATH,
  F_PRIORITY,
  F_REASON,
  F_REGION,
  FloodgateLine,
} from './floodgate-line.js';
import { bytesHash, FIRST_TABLE_IDS, InternedStrings, NO_ID } from './interned-strings.js';
import { IsoTimes } from './iso-times.js';
import { JsonFieldScanner } from './json-fields.js';
import { UNTAGGED } from './known-values.js';
import { ERROR, LOCAL, outcomeKind, REFUSED, refusedAsBadInput } from './outcome-kinds.js';
import type { ClientFields } from './replay-request.js';

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
  /** Of `durationMs`, the wait before it went upstream (a pacing turn, spare capacity; 0 when not logged). */
  waitMs: number;
  refusedLive: boolean;
  /** The region whose limits the request met first: `failoverFrom` when present, else `region`. */
  home: string;
  method: string;
  /**
   * What routes are matched against in place of the request target: for an origin-form ASCII
   * target, the longest of the parser's route prefixes it starts with ('' for none). Every prefix
   * the target starts with is a prefix of that one and no other is, so the first route matching it
   * is the first matching the target. Any other target is kept whole (path and query, as logged).
   */
  routeKey: string;
  /** The logged priority's rank, or -1 when none was logged. */
  loggedRank: number;
  /**
   * Lines read by the same parser with the same shape (when not -1) have the same method and route
   * key, so whatever follows from those two alone can be kept by shape instead of looked up.
   */
  shape: number;
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
  'waitMs',
  'reason',
] as const;
const [
  TIME,
  REGION,
  STATUS,
  OUTCOME,
  PRIORITY,
  DURATION,
  METHOD,
  PATH,
  CLIENT,
  FAILOVER_FROM,
  EVENT,
  WAIT,
  REASON,
] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/**
 * Turns log lines (bytes) into records. One instance per log: it keeps the readers and the last
 * whole second of `time` it decoded, since consecutive lines almost always share it. Lines in
 * Floodgate's own layout are read by FloodgateLine; every other line by the general scanner.
 */
export class AccessLineParser {
  private readonly scanner = new JsonFieldScanner(FIELDS);
  private readonly own = new FloodgateLine();
  // Whether the last line was read by `own` (else by `scanner`).
  private ownLayout = false;
  private readonly clients: InternedStrings;
  // Longest first, so the first one a target starts with is its route key; undefined: keep targets whole.
  private readonly prefixes: ReadonlyArray<{ run: ByteRun; key: string }> | undefined;
  private readonly chunk = new ChunkView();
  private readonly line: AccessLine = {
    end: 0,
    durationMs: 0,
    waitMs: 0,
    refusedLive: false,
    home: '',
    method: '',
    routeKey: '',
    loggedRank: -1,
    shape: -1,
  };
  // The whole second of the last plain time decoded (`YYYY-MM-DDTHH:MM:SS`); empty at first.
  private readonly times = new IsoTimes();

  /**
   * `routePrefixes`: every route prefix replay matches against; undefined, or one not ASCII, keeps
   * targets whole. `clients`: where client addresses get their ids, shared by the parsers of one
   * run so that an id means the same client in every log.
   */
  constructor(routePrefixes?: readonly string[], clients = new InternedStrings()) {
    this.clients = clients;
    const ascii = routePrefixes?.every((prefix) => Buffer.byteLength(prefix, 'utf8') === prefix.length);
    this.prefixes = ascii
      ? [...new Set(routePrefixes)]
          .sort((a, b) => b.length - a.length)
          .map((key) => ({ run: new ByteRun(Buffer.from(key, 'latin1')), key }))
      : undefined;
  }

  /** The access line `bytes[start, end)`, or what else the line is. */
  parse(bytes: Buffer, start = 0, end = bytes.length): AccessLine | Exclude<LineKind, 'access'> {
    this.ownLayout = this.own.read(bytes, start, end);
    if (this.ownLayout) return this.fromOwnLayout();
    const s = this.scanner;
    if (!s.scan(bytes, start, end) || s.has(EVENT)) return OTHER;
    const status = s.number(STATUS);
    const durationMs = s.number(DURATION);
    const region = s.repeated(REGION);
    const method = s.repeated(METHOD);
    const routeKey = this.routeKey(s);
    if (
      status === undefined ||
      durationMs === undefined ||
      !(durationMs >= 0) ||
      region === undefined ||
      method === undefined ||
      routeKey === undefined
    ) {
      return OTHER;
    }
    const endedAt = this.time(s);
    if (endedAt === undefined) return OTHER;
    const outcome = s.repeated(OUTCOME);
    if (outcome === 'error' && refusedAsBadInput(s.repeated(REASON), status)) return BAD_INPUT;
    if (outcome === 'local') return OTHER;
    const line = this.line;
    line.end = endedAt;
    line.durationMs = durationMs;
    const wait = s.number(WAIT);
    line.waitMs = wait !== undefined && wait > 0 ? wait : 0;
    line.refusedLive = outcome === 'shed' || outcome === 'stale';
    line.home = s.repeated(FAILOVER_FROM) ?? region;
    line.method = method;
    line.routeKey = routeKey;
    line.loggedRank = loggedRank(s.repeated(PRIORITY));
    line.shape = -1;
    return line;
  }

  /** The last access line's `client`, when it has one. */
  client(): string | undefined {
    const fields: ClientFields = { client: undefined, clientId: NO_ID };
    this.readClient(fields);
    return fields.clientId === NO_ID ? fields.client : this.clients.value(fields.clientId);
  }

  /** The last access line's `client`, as ClientFields says. Read only when needed: most replays do not. */
  readClient(into: ClientFields): void {
    into.clientId = NO_ID;
    if (this.ownLayout) {
      const own = this.own;
      const [start, end] = [own.starts[F_CLIENT]!, own.ends[F_CLIENT]!];
      if (own.high[F_CLIENT] === 1) into.client = own.bytes.toString('utf8', start, end);
      else this.intern(into, own.bytes, start, end, own.clientHash);
      return;
    }
    const s = this.scanner;
    const at = s.plainStringStart(CLIENT);
    if (at < 0 || s.hasHighBytes(CLIENT)) {
      into.client = s.string(CLIENT);
      return;
    }
    const end = s.valueEnd(CLIENT) - 1;
    this.intern(into, s.bytes, at, end, bytesHash(s.bytes, at, end));
  }

  private intern(into: ClientFields, b: Buffer, start: number, end: number, hash: number): void {
    const id = this.clients.idHashed(b, start, end, hash);
    if (id !== NO_ID && id < FIRST_TABLE_IDS) {
      into.clientId = id;
      into.client = undefined;
    } else into.client = id === NO_ID ? b.toString('latin1', start, end) : this.clients.value(id);
  }

  /** The last access line's whole request target. */
  path(): string | undefined {
    const own = this.own;
    if (this.ownLayout) return own.bytes.toString('utf8', own.starts[F_PATH]!, own.ends[F_PATH]!);
    return this.scanner.string(PATH);
  }

  private fromOwnLayout(): AccessLine | typeof BAD_INPUT | typeof OTHER {
    const own = this.own;
    const ids = own.ids;
    const outcomes = own.outcomes;
    const outcome = ids[F_OUTCOME]!;
    let kind = outcomes.tags[outcome]!;
    if (kind === UNTAGGED) kind = outcomes.tags[outcome] = outcomeKind(outcomes.strings[outcome]!);
    if (kind === ERROR && this.ownBadInput()) return BAD_INPUT;
    if (kind === LOCAL) return OTHER;
    const line = this.line;
    line.end = own.time;
    line.durationMs = own.durationMs;
    line.waitMs = own.waitMs;
    line.refusedLive = kind === REFUSED;
    line.home = own.regions.strings[ids[own.starts[F_FAILOVER_FROM]! < 0 ? F_REGION : F_FAILOVER_FROM]!]!;
    line.method = own.methods.strings[ids[F_METHOD]!]!;
    const prefix = this.prefixIndex(own.bytes, own.starts[F_PATH]!, own.ends[F_PATH]!);
    if (prefix === WHOLE) {
      line.routeKey = own.bytes.toString('utf8', own.starts[F_PATH]!, own.ends[F_PATH]!);
      line.shape = -1;
    } else {
      line.routeKey = prefix === NO_PREFIX ? '' : this.prefixes![prefix]!.key;
      // Method ids are below a table's 32 values; prefix indexes below the prefixes' count.
      line.shape = ids[F_METHOD]! * (this.prefixes!.length + 1) + prefix + 1;
    }
    const priorities = own.priorities;
    const priority = ids[F_PRIORITY]!;
    let rank = priorities.tags[priority]!;
    if (rank === UNTAGGED) rank = priorities.tags[priority] = loggedRank(priorities.strings[priority]!);
    line.loggedRank = rank;
    return line;
  }

  /** refusedAsBadInput for the line `own` read, its answer kept by reason. */
  private ownBadInput(): boolean {
    const own = this.own;
    if (own.starts[F_REASON]! < 0) return refusedAsBadInput(undefined, own.status);
    const reasons = own.reasons;
    const reason = own.ids[F_REASON]!;
    if (reasons.tags[reason] === UNTAGGED)
      reasons.tags[reason] = refusedAsBadInput(reasons.strings[reason], 0) ? 1 : 0;
    return reasons.tags[reason] === 1;
  }

  private routeKey(s: JsonFieldScanner): string | undefined {
    const at = s.plainStringStart(PATH);
    if (at < 0) return s.string(PATH);
    return this.prefixKey(s.bytes, at, s.valueEnd(PATH) - 1) ?? s.string(PATH);
  }

  /** The route key of the target `b[at, end)`, undefined when it is kept whole. */
  private prefixKey(b: Buffer, at: number, end: number): string | undefined {
    const prefix = this.prefixIndex(b, at, end);
    if (prefix === WHOLE) return undefined;
    return prefix === NO_PREFIX ? '' : this.prefixes![prefix]!.key;
  }

  /**
   * Which of the prefixes the target `b[at, end)` starts with (the longest): NO_PREFIX for none,
   * WHOLE when the target is kept whole. Bytes above ASCII make no difference: the prefixes are
   * ASCII, and UTF-8 decodes an ASCII byte to itself and nothing else to an ASCII character, so
   * the target starts with a prefix's bytes exactly when its text starts with the prefix.
   */
  private prefixIndex(b: Buffer, at: number, end: number): number {
    const prefixes = this.prefixes;
    if (prefixes === undefined || b[at] !== 47 /* / */ || at === end) return WHOLE;
    const v = this.chunk.of(b);
    for (let i = 0; i < prefixes.length; i++) if (prefixes[i]!.run.isAt(v, b, at, end)) return i;
    return NO_PREFIX;
  }

  /** `time` as epoch ms: pino's ISO string (its whole second cached), or a number of ms. */
  private time(s: JsonFieldScanner): number | undefined {
    const line = s.bytes;
    const at = s.plainStringStart(TIME);
    if (at >= 0 && s.valueEnd(TIME) === at + 25 && this.times.read(line, at, at + 25)) return this.times.time;
    const numeric = s.number(TIME);
    if (numeric !== undefined) return numeric;
    const parsed = Date.parse(s.string(TIME) ?? '');
    return Number.isFinite(parsed) ? parsed : undefined;
  }
}

const OTHER = 'other';
// What prefixIndex says of a target that starts with no prefix, and of one kept whole.
const [NO_PREFIX, WHOLE] = [-1, -2];
const BAD_INPUT = 'bad-input';

function loggedRank(value: string | undefined): number {
  const priority = parsePriority(value);
  return priority === undefined ? -1 : priorityRank(priority);
}
