import { emptyRequest, type ReplayRequest } from './replay-request.js';

const FIRST_ROWS = 1024;

/**
 * The requests waiting in the reorder buffer, stored as rows of typed arrays (one array per field)
 * instead of one object each. A request waits the whole reorder window (tens of thousands of
 * requests later) before it is read again, so it is cold by then: a row is a few bytes in arrays
 * that are written and read nearly in order, where an object is a header, boxed numbers and
 * pointers spread over several cache lines. Rows are reused once let out, so nothing is allocated
 * per request.
 */
export class RequestRows {
  arrival = new Float64Array(FIRST_ROWS);
  // Read order as 32 bits: requests compared are in the buffer together, far fewer than 2^31 apart.
  seq = new Int32Array(FIRST_ROWS);
  /** The next row in the same list (the reorder buffer's buckets); -1 ends it. */
  next = new Int32Array(FIRST_ROWS);
  private durationMs = new Float64Array(FIRST_ROWS);
  private ranks = new Int32Array(FIRST_ROWS);
  private route = new Int32Array(FIRST_ROWS);
  private clientId = new Int32Array(FIRST_ROWS);
  private home = new Int32Array(FIRST_ROWS);
  private readonly client: Array<string | undefined> = [];
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
      if (this.used === this.arrival.length) this.grow();
      row = this.used++;
    }
    this.arrival[row] = request.arrival;
    this.seq[row] = request.seq;
    this.durationMs[row] = request.durationMs;
    this.ranks[row] = request.ranks;
    this.route[row] = request.route;
    this.home[row] = request.home;
    this.client[row] = request.client;
    this.clientId[row] = request.clientId;
    return row;
  }

  /**
   * Frees the row and returns its request, in an object that is only valid until the next call:
   * whoever it is offered to reads it there and then.
   */
  take(row: number): ReplayRequest {
    const view = this.view;
    view.arrival = this.arrival[row]!;
    view.seq = this.seq[row]!;
    view.durationMs = this.durationMs[row]!;
    view.ranks = this.ranks[row]!;
    view.route = this.route[row]!;
    view.home = this.home[row]!;
    view.client = this.client[row];
    view.clientId = this.clientId[row]!;
    this.client[row] = undefined;
    this.free[this.freeCount++] = row;
    return view;
  }

  /** True when `a` is let out before `b`: earlier arrival, then read order. */
  before(a: number, b: number): boolean {
    const arrival = this.arrival;
    return (
      arrival[a]! < arrival[b]! || (arrival[a] === arrival[b] && ((this.seq[a]! - this.seq[b]!) | 0) < 0)
    );
  }

  private grow(): void {
    const size = this.arrival.length * 2;
    this.arrival = grown(this.arrival, new Float64Array(size));
    this.seq = grown(this.seq, new Int32Array(size));
    this.next = grown(this.next, new Int32Array(size));
    this.durationMs = grown(this.durationMs, new Float64Array(size));
    this.ranks = grown(this.ranks, new Int32Array(size));
    this.route = grown(this.route, new Int32Array(size));
    this.clientId = grown(this.clientId, new Int32Array(size));
    this.home = grown(this.home, new Int32Array(size));
    this.free = grown(this.free, new Int32Array(size));
  }
}

function grown<T extends Float64Array | Int32Array>(old: T, larger: T): T {
  larger.set(old);
  return larger;
}
