import { NO_ID } from './interned-strings.js';
import { emptyRequest, type ReplayRequest } from './replay-request.js';

const FIRST_ROWS = 1024;
// A row is five eight-byte words: arrival and duration as doubles, then six 32-bit fields.
const WORDS = 5;
const INTS = 2 * WORDS;
const [SEQ, NEXT, RANKS, ROUTE, CLIENT_ID, HOME] = [4, 5, 6, 7, 8, 9];

/**
 * The requests waiting in the reorder buffer, stored as 40-byte rows of one buffer instead of one
 * object each. A request waits the whole reorder window (tens of thousands of requests later)
 * before it is read again, so it is cold by then: its row is one or two cache lines, where an
 * object is a header, boxed numbers and pointers spread over several, and an array per field
 * is a line per field. Rows are reused once let out, so nothing is allocated per request.
 */
export class RequestRows {
  private floats = new Float64Array(FIRST_ROWS * WORDS);
  private ints = new Int32Array(this.floats.buffer);
  // By row, only for a client given as text (rare: see ClientFields), so most rows never touch it.
  private readonly client = new Map<number, string | undefined>();
  // Rows let out, to be reused; rows at and above `used` have never been handed out.
  private free = new Int32Array(FIRST_ROWS);
  private freeCount = 0;
  private used = 0;
  // Handed to whoever a request is let out to; filled again for every request.
  private readonly view: ReplayRequest = emptyRequest();

  /** A row holding a copy of `request`. */
  add(request: ReplayRequest): number {
    let row: number;
    if (this.freeCount > 0) row = this.free[--this.freeCount]!;
    else {
      if (this.used === this.free.length) this.grow();
      row = this.used++;
    }
    this.floats[WORDS * row] = request.arrival;
    this.floats[WORDS * row + 1] = request.durationMs;
    const ints = this.ints;
    const at = INTS * row;
    // Read order as 32 bits, compared wrap-safe (`before`): two waiting requests are as far apart
    // as the lines read while the earlier waits, and 2^31 lines are hundreds of gigabytes of log.
    ints[at + SEQ] = request.seq;
    ints[at + RANKS] = request.ranks;
    ints[at + ROUTE] = request.route;
    ints[at + CLIENT_ID] = request.clientId;
    ints[at + HOME] = request.home;
    if (request.clientId === NO_ID) this.client.set(row, request.client);
    return row;
  }

  arrival(row: number): number {
    return this.floats[WORDS * row]!;
  }

  /** The next row in the same list (the reorder buffer's buckets); -1 ends it. */
  next(row: number): number {
    return this.ints[INTS * row + NEXT]!;
  }

  setNext(row: number, next: number): void {
    this.ints[INTS * row + NEXT] = next;
  }

  /**
   * Frees the row and returns its request, in an object that is only valid until the next call:
   * whoever it is offered to reads it there and then.
   */
  take(row: number): ReplayRequest {
    const view = this.view;
    const ints = this.ints;
    const at = INTS * row;
    view.arrival = this.floats[WORDS * row]!;
    view.durationMs = this.floats[WORDS * row + 1]!;
    view.seq = ints[at + SEQ]!;
    view.ranks = ints[at + RANKS]!;
    view.route = ints[at + ROUTE]!;
    view.home = ints[at + HOME]!;
    const clientId = ints[at + CLIENT_ID]!;
    view.clientId = clientId;
    view.client = undefined;
    if (clientId === NO_ID) {
      view.client = this.client.get(row);
      this.client.delete(row);
    }
    this.free[this.freeCount++] = row;
    return view;
  }

  /** True when `a` is let out before `b`: earlier arrival, then read order. */
  before(a: number, b: number): boolean {
    const x = this.floats[WORDS * a]!;
    const y = this.floats[WORDS * b]!;
    return x < y || (x === y && ((this.ints[INTS * a + SEQ]! - this.ints[INTS * b + SEQ]!) | 0) < 0);
  }

  private grow(): void {
    const floats = new Float64Array(this.floats.length * 2);
    floats.set(this.floats);
    this.floats = floats;
    this.ints = new Int32Array(floats.buffer);
    const free = new Int32Array(this.free.length * 2);
    free.set(this.free);
    this.free = free;
  }
}
