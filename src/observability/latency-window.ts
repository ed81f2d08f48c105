// A fixed-size ring of the most recent latencies. record() runs once per upstream response, so it
// only writes into a preallocated Float64Array; the sorting needed for percentiles happens on a copy
// when someone reads them (a scrape, the dashboard), which is rare next to the request rate.

export const DEFAULT_LATENCY_WINDOW_SIZE = 2048;

export interface LatencyPercentiles {
  p50Ms: number;
  p99Ms: number;
}

export class LatencyWindow {
  private readonly samples: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private count = 0;

  constructor(size: number = DEFAULT_LATENCY_WINDOW_SIZE) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer`);
    this.samples = new Float64Array(size);
    this.scratch = new Float64Array(size);
  }

  get size(): number {
    return this.count;
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = this.next + 1 === this.samples.length ? 0 : this.next + 1;
    if (this.count < this.samples.length) this.count++;
  }

  /** Nearest-rank percentile (0 < p <= 100) of the samples in the window; 0 when it is empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const sorted = this.sortedCopy();
    return nearestRank(sorted, p);
  }

  percentiles(): LatencyPercentiles {
    if (this.count === 0) return { p50Ms: 0, p99Ms: 0 };
    const sorted = this.sortedCopy();
    return { p50Ms: nearestRank(sorted, 50), p99Ms: nearestRank(sorted, 99) };
  }

  clear(): void {
    this.next = 0;
    this.count = 0;
  }

  private sortedCopy(): Float64Array {
    const view = this.scratch.subarray(0, this.count);
    view.set(this.samples.subarray(0, this.count));
    return view.sort();
  }
}

function nearestRank(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] ?? 0;
}
