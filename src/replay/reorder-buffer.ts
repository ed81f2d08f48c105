import { heapPop, heapPush } from './min-heap.js';
import type { ReadRequest, ReplayRequest } from './replay-request.js';
import { RequestRows } from './request-rows.js';

/**
 * Puts requests back in arrival order with bounded memory.
 *
 * An access line is written when its answer ends, so a log is ordered by end time, not by arrival
 * (`time - durationMs`). But no request lasts longer than some bound D (the upstream timeout, or the
 * longest duration seen so far): once the log has reached end time F, every line still to come
 * arrived after F - D. So a request can be let out as soon as its arrival is below F - D, and the
 * buffer holds at most D seconds of traffic, whatever the length of the log. A small slack on top
 * of D absorbs lines written slightly out of order (several processes sharing one output).
 *
 * The buffer is a ring of one-millisecond buckets of arrival time (a calendar queue), each a list
 * linked through the requests' rows (see request-rows.ts): adding a request and letting one out cost the same
 * whatever the buffer holds, where a binary heap of tens of thousands of requests spends most of
 * its time waiting on memory. Requests in one bucket are sorted (by arrival, then read order) as
 * the bucket is let out. The ring spans twice the window and grows with it; the rare request
 * beyond its span (a log so sparse that one chunk of it covers more) waits in a small heap until
 * the ring reaches it.
 *
 * A request that turns up after later arrivals were let out (it lasted longer than D) is let out
 * with the next bucket, and counted as late, so the report can say so.
 */
export class ReorderBuffer {
  private readonly rows = new RequestRows();
  // Per bucket, the first row of its list; -1 when empty.
  private buckets: Int32Array;
  private mask: number;
  private windowMs: number;
  private readonly slackMs: number;
  private frontier = Number.NEGATIVE_INFINITY;
  // The first millisecond of arrival time not yet let out; NaN until the first request.
  private nextMs = Number.NaN;
  private count = 0;
  private inRing = 0;
  // Rows beyond the ring's span, in a heap by arrival.
  private readonly overflow: number[] = [];
  private readonly before = (a: number, b: number) => this.rows.before(a, b);
  // The bucket being let out, sorted in place. A typed array: emptying a plain array (length = 0)
  // gives its storage back, so it was allocated again for every bucket.
  private batch: Int32Array = new Int32Array(64);
  /** Requests that arrived before one already let out. */
  late = 0;
  /** The most requests held at once. */
  peak = 0;

  /** `longestMs`: the longest a request can last; `slackMs`: how far out of order lines may be written. */
  constructor(longestMs: number, slackMs: number) {
    this.slackMs = slackMs;
    this.windowMs = longestMs + slackMs;
    const size = ringSizeFor(this.windowMs);
    this.buckets = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Keeps a copy of `request`: the object itself can be filled again for the next one. */
  push(request: ReadRequest): void {
    const lasted = request.end - request.arrival + this.slackMs;
    if (lasted > this.windowMs) this.windowMs = lasted;
    let ms = Math.floor(request.arrival);
    // The first request, or the first after a quiet stretch: lines still to come end no earlier than
    // this one (less the slack), so none arrived before its end less the window, and nothing there
    // has been let out. Starting at its own arrival instead counted a longer one read next as late.
    const start = Math.floor(request.end - this.windowMs);
    if (Number.isNaN(this.nextMs) || (this.count === 0 && start > this.nextMs)) this.nextMs = start;
    if (ms < this.nextMs) {
      this.late++;
      ms = this.nextMs;
    }
    if (this.windowMs * 2 > this.buckets.length) this.grow();
    this.count++;
    if (this.count > this.peak) this.peak = this.count;
    const row = this.rows.add(request);
    if (ms - this.nextMs < this.buckets.length) this.toRing(row, ms);
    else heapPush(this.overflow, row, this.before);
  }

  /** Tells the buffer how far the logs have been read: no line still to come ends before `endTime`. */
  readThrough(endTime: number): void {
    if (endTime > this.frontier) this.frontier = endTime;
  }

  /**
   * Lets out, in arrival order, every request no later line can precede. The request handed to
   * `offer` is only valid during the call.
   */
  drain(offer: (request: ReplayRequest) => void): void {
    this.releaseBefore(this.frontier - this.windowMs, offer);
  }

  /** Lets out everything: the logs have ended. */
  drainAll(offer: (request: ReplayRequest) => void): void {
    this.releaseBefore(Number.POSITIVE_INFINITY, offer);
  }

  private releaseBefore(safeBefore: number, offer: (request: ReplayRequest) => void): void {
    const overflow = this.overflow;
    const arrival = () => Math.floor(this.rows.arrival(overflow[0]!));
    while (this.count > 0) {
      // Nothing in the ring: skip the empty stretch to the first request waiting beyond it, but no
      // further than is safe, where a line still to come may yet arrive.
      if (this.inRing === 0) this.nextMs = Math.max(this.nextMs, Math.min(arrival(), Math.floor(safeBefore)));
      if (!(this.nextMs + 1 <= safeBefore)) return;
      while (overflow.length > 0 && arrival() - this.nextMs < this.buckets.length) {
        const row = heapPop(overflow, this.before);
        this.toRing(row, Math.max(Math.floor(this.rows.arrival(row)), this.nextMs));
      }
      this.releaseBucket(offer);
    }
  }

  private toRing(row: number, ms: number): void {
    const slot = ms & this.mask;
    this.rows.setNext(row, this.buckets[slot]!);
    this.buckets[slot] = row;
    this.inRing++;
  }

  private releaseBucket(offer: (request: ReplayRequest) => void): void {
    const slot = this.nextMs & this.mask;
    let row = this.buckets[slot]!;
    this.nextMs++;
    if (row === -1) return;
    this.buckets[slot] = -1;
    const rows = this.rows;
    let batch = this.batch;
    let n = 0;
    while (row !== -1) {
      if (n === batch.length) batch = this.widerBatch();
      batch[n++] = row;
      row = rows.next(row);
    }
    // Lists are built newest first; a few requests share a millisecond, so insertion sort it is.
    for (let i = 1; i < n; i++) {
      const item = batch[i]!;
      let j = i - 1;
      while (j >= 0 && rows.before(item, batch[j]!)) {
        batch[j + 1] = batch[j]!;
        j--;
      }
      batch[j + 1] = item;
    }
    this.count -= n;
    this.inRing -= n;
    for (let i = 0; i < n; i++) offer(rows.take(batch[i]!));
  }

  private widerBatch(): Int32Array {
    const wider = new Int32Array(this.batch.length * 2);
    wider.set(this.batch);
    this.batch = wider;
    return wider;
  }

  /** A larger ring, for a wider window. */
  private grow(): void {
    const size = ringSizeFor(this.windowMs);
    const buckets = new Int32Array(size).fill(-1);
    const rows = this.rows;
    for (const head of this.buckets) {
      let row = head;
      while (row !== -1) {
        const following = rows.next(row);
        const slot = Math.max(Math.floor(rows.arrival(row)), this.nextMs) & (size - 1);
        rows.setNext(row, buckets[slot]!);
        buckets[slot] = row;
        row = following;
      }
    }
    this.buckets = buckets;
    this.mask = size - 1;
  }
}

function ringSizeFor(spanMs: number): number {
  let size = 1024;
  while (size < spanMs * 2) size *= 2;
  return size;
}
