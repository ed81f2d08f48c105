import type { Random } from './random.js';
import { lognormalSampler } from './random.js';
import { WorkerQueue } from './worker-queue.js';

export interface CountsStoreOptions {
  /** Lookups the store serves at once. */
  slots: number;
  /** Mean time one lookup holds a slot. */
  serviceMs: number;
  /** Waiting lookups beyond which new ones are refused at once. */
  queueLimit: number;
  /** Longest a caller waits for an answer before giving up. */
  deadlineMs: number;
}

/**
 * The dependency behind like and view counts. Its callers treat "no answer in time" as "zero",
 * which is the bug users see during an overload: videos showing 0 likes instead of an error.
 * An answer of 0 here always means the store was overloaded, never a true count.
 */
export class CountsStore {
  private readonly queue: WorkerQueue;
  private readonly serviceTime: () => number;
  private overloadedAnswers = 0;

  constructor(
    private readonly options: CountsStoreOptions,
    random: Random,
  ) {
    this.queue = new WorkerQueue(options.slots);
    this.serviceTime = lognormalSampler(random, options.serviceMs, 0.3);
  }

  lookup(trueCount: number, answer: (count: number) => void): void {
    if (this.queue.length >= this.options.queueLimit) {
      this.overloadedAnswers++;
      answer(0);
      return;
    }
    let settled = false;
    const deadline = setTimeout(() => {
      settled = true;
      this.overloadedAnswers++;
      answer(0);
    }, this.options.deadlineMs);
    this.queue.acquire(() => {
      if (settled) {
        // The caller already gave up: the slot passes straight to the next lookup.
        this.queue.release();
        return;
      }
      setTimeout(() => {
        this.queue.release();
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        answer(trueCount);
      }, this.serviceTime());
    });
  }

  get zeros(): number {
    return this.overloadedAnswers;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue.clear();
  }
}
