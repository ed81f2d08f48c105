import type { AccessRecord } from './access-line.js';

/**
 * Puts requests back in arrival order with bounded memory.
 *
 * An access line is written when its answer ends, so a log is ordered by end time, not by arrival
 * (`time - durationMs`). But no request lasts longer than some bound D (the request timeout, or the
 * longest duration seen so far): once the log has reached end time F, every line still to come
 * arrived after F - D. So a line can be let out as soon as its arrival is below F - D, and the
 * buffer holds at most D seconds of traffic, whatever the length of the log. A small slack on top
 * of D absorbs lines written slightly out of order (several processes sharing one output).
 *
 * A line that does turn up after later arrivals were let out (it lasted longer than D) is still
 * replayed, at the virtual clock's current time, and counted as late, so the report can say so.
 */
export class ReorderBuffer {
  private readonly heap: AccessRecord[] = [];
  private windowMs: number;
  private readonly slackMs: number;
  private frontier = Number.NEGATIVE_INFINITY;
  private released = Number.NEGATIVE_INFINITY;
  /** Records that arrived before one already let out. */
  late = 0;
  /** The most records held at once. */
  peak = 0;

  /** `longestMs`: the longest a request can last; `slackMs`: how far out of order lines may be written. */
  constructor(longestMs: number, slackMs: number) {
    this.slackMs = slackMs;
    this.windowMs = longestMs + slackMs;
  }

  get size(): number {
    return this.heap.length;
  }

  push(record: AccessRecord): void {
    const lasted = record.end - record.arrival + this.slackMs;
    if (lasted > this.windowMs) this.windowMs = lasted;
    if (record.arrival < this.released) this.late++;
    const heap = this.heap;
    let i = heap.length;
    heap.push(record);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(record, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = record;
    if (heap.length > this.peak) this.peak = heap.length;
  }

  /** Tells the buffer how far the logs have been read: no line still to come ends before `endTime`. */
  readThrough(endTime: number): void {
    if (endTime > this.frontier) this.frontier = endTime;
  }

  /** Lets out, in arrival order, every record no later line can precede. */
  drain(offer: (record: AccessRecord) => void): void {
    const safeBefore = this.frontier - this.windowMs;
    while (this.heap.length > 0 && this.heap[0]!.arrival < safeBefore) offer(this.take());
  }

  /** Lets out everything: the logs have ended. */
  drainAll(offer: (record: AccessRecord) => void): void {
    while (this.heap.length > 0) offer(this.take());
  }

  private take(): AccessRecord {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && before(heap[child + 1]!, heap[child]!)) child++;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    if (top.arrival > this.released) this.released = top.arrival;
    return top;
  }
}

function before(a: AccessRecord, b: AccessRecord): boolean {
  return a.arrival < b.arrival || (a.arrival === b.arrival && a.seq < b.seq);
}
