/**
 * How long a request refused live would have held its slot had it been admitted: the median
 * duration of the admitted requests of its route (in its home region) just before it. A refusal
 * lasts well under a millisecond, so its own duration says nothing; the requests of the same route
 * that went upstream at about the same time say how slow that upstream was then.
 *
 * Each key keeps the last SAMPLES durations in a ring. The median is recomputed only after a few
 * new samples, since a flood brings many refusals between two admitted requests and a sort per
 * refusal would cost more than the rest of the replay.
 */

const SAMPLES = 31;
const RECOMPUTE_AFTER = 4;

class Ring {
  private readonly values = new Float64Array(SAMPLES);
  private readonly scratch = new Float64Array(SAMPLES);
  private count = 0;
  private next = 0;
  private sinceMedian = 0;
  private median = Number.NaN;

  add(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % SAMPLES;
    if (this.count < SAMPLES) this.count++;
    this.sinceMedian++;
  }

  estimate(): number {
    if (this.count === 0) return Number.NaN;
    if (Number.isNaN(this.median) || this.sinceMedian >= RECOMPUTE_AFTER) {
      // Copied by hand: a subarray to copy from is an allocation per estimate.
      for (let i = 0; i < this.count; i++) this.scratch[i] = this.values[i]!;
      this.median = kthSmallest(this.scratch, this.count, this.count >> 1);
      this.sinceMedian = 0;
    }
    return this.median;
  }
}

/**
 * The value sorting `a[0, count)` would put at `k` (Hoare's selection; the order of `a` is lost).
 * Why not sort: a typed array's sort is a native call that costs about twice this walk over a
 * ring's few values, once every few refusals. Durations are never NaN, so `<` orders them as sort does.
 */
export function kthSmallest(a: Float64Array, count: number, k: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const swap = a[i]!;
        a[i++] = a[j]!;
        a[j--] = swap;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}

export class DurationEstimates {
  // By home region's id (ReplayRequest.home), rings indexed by route.
  private readonly byRegion: Ring[][] = [];
  // Every admitted request, for a route that has not had one yet.
  private readonly overall = new Ring();

  /** Remembers how long an admitted request of this region and route took. */
  observe(region: number, route: number, ms: number): void {
    let rings = this.byRegion[region];
    if (rings === undefined) {
      rings = [];
      this.byRegion[region] = rings;
    }
    let ring = rings[route];
    if (ring === undefined) {
      ring = new Ring();
      rings[route] = ring;
    }
    ring.add(ms);
    this.overall.add(ms);
  }

  /** The estimate for this region and route, without falling back to other routes; NaN when none. */
  own(region: number, route: number): number {
    const ring = this.byRegion[region]?.[route];
    return ring === undefined ? Number.NaN : ring.estimate();
  }

  /** The estimate for this region and route, else for any admitted request; 0 when none was ever seen. */
  withFallback(region: number, route: number): number {
    const own = this.own(region, route);
    if (!Number.isNaN(own)) return own;
    const overall = this.overall.estimate();
    return Number.isNaN(overall) ? 0 : overall;
  }
}
