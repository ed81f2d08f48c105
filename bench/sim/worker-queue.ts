/**
 * A fixed set of workers in front of a FIFO queue with no bound: once arrivals outpace the
 * workers, the queue and every later request's wait grow for as long as the overload lasts, which
 * is how an unprotected backend behaves.
 */
export class WorkerQueue {
  private busy = 0;
  private waiting: Array<() => void> = [];
  private head = 0;
  private deepest = 0;

  constructor(readonly workers: number) {}

  acquire(grant: () => void): void {
    if (this.busy < this.workers) {
      this.busy++;
      grant();
      return;
    }
    this.waiting.push(grant);
    const length = this.length;
    if (length > this.deepest) this.deepest = length;
  }

  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.head++;
      this.compactWhenDrained();
      next();
      return;
    }
    this.busy--;
  }

  get length(): number {
    return this.waiting.length - this.head;
  }

  get inService(): number {
    return this.busy;
  }

  get maxLength(): number {
    return this.deepest;
  }

  /** Forgets every waiting request, as a restarted backend would. */
  clear(): void {
    this.waiting = [];
    this.head = 0;
    this.deepest = 0;
  }

  private compactWhenDrained(): void {
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}
