/**
 * A gradient concurrency limit, in the spirit of Netflix's Gradient2 and Envoy's adaptive
 * concurrency filter: the in-flight cap follows measured latency instead of a fixed number.
 *
 * Inputs. Each completed request reports its upstream latency and the in-flight count when it
 * started. Samples are grouped into windows of `sampleWindowMs`; a window closes with the first
 * sample after its time is up, so the limit is recomputed at most once per window and never by a
 * timer. A window's latency is the median of its samples (the most recent few hundred), so a few
 * timeouts among fast answers do not read as queueing.
 *
 * Baseline. The minimum RTT is the lowest window median seen over the last one to two periods of
 * `minRttWindowMs`. Letting old minima expire is how the baseline re-measures itself: when an
 * upstream becomes slower for good (a heavier release, a colder cache), the limit first falls and
 * then, once the old minimum has expired, climbs back to where the new latency allows.
 *
 * Update. gradient = (tolerance × minRtt + slack) / windowRtt, clamped to [0.5, 1]: 1 while latency
 * is within tolerance of the baseline, smaller as queueing builds up, never below one half so a
 * single bad window cannot collapse the limit. The target is limit × gradient + √limit (the square
 * root is headroom to probe for more capacity, as in Envoy), and the limit moves towards the target
 * by `smoothing` each window. It is clamped to [minLimit, maxLimit].
 *
 * A limit only grows while it is being used: when fewer than half of it were in flight during a
 * window, latency says nothing about whether more would fit (Gradient2's "app limited" rule).
 *
 * How it fails. The controller cannot tell queueing in the upstream from an upstream that got
 * slower: either way the limit falls until the baseline catches up, shedding some traffic for up to
 * two `minRttWindowMs`. Latency that rises slowly over many periods is taken for the new normal.
 * With only a few requests per window, single samples decide; the clamps keep that harmless.
 *
 * Why hand-written. The published implementations are Java and C++; this is the few lines of
 * arithmetic that matter, with an injected clock so tests drive it without sleeping.
 */
import type { Clock } from './clock.js';

export interface AdaptiveOptions {
  minLimit: number;
  maxLimit: number;
  initialLimit?: number;
  smoothing?: number;
  sampleWindowMs?: number;
  minRttWindowMs?: number;
}

const DEFAULT_SMOOTHING = 0.2;
const DEFAULT_SAMPLE_WINDOW_MS = 250;
const DEFAULT_MIN_RTT_WINDOW_MS = 30_000;
/** Latency up to this multiple of the baseline is not treated as queueing. */
const RTT_TOLERANCE = 1.5;
/** Jitter below a millisecond says nothing about queueing, however fast the upstream is. */
const RTT_SLACK_MS = 1;
const MIN_GRADIENT = 0.5;
const MAX_SAMPLES_PER_WINDOW = 512;

export class AdaptiveLimit {
  private minLimit = 1;
  private maxLimit = 1;
  private smoothing = DEFAULT_SMOOTHING;
  private sampleWindowMs = DEFAULT_SAMPLE_WINDOW_MS;
  private minRttWindowMs = DEFAULT_MIN_RTT_WINDOW_MS;

  private estimate: number;
  private current: number;

  private readonly samples = new Float64Array(MAX_SAMPLES_PER_WINDOW);
  private sampleCount = 0;
  private windowStart: number;
  private windowMaxInflight = 0;

  private periodStart: number;
  private periodMinRtt = Number.POSITIVE_INFINITY;
  private previousPeriodMinRtt = Number.POSITIVE_INFINITY;

  constructor(
    opts: AdaptiveOptions,
    private readonly clock: Clock,
  ) {
    this.applyOptions(opts);
    // Starting at the ceiling behaves like a fixed cap until latency says otherwise.
    this.estimate = this.clamp(opts.initialLimit ?? this.maxLimit);
    this.current = Math.floor(this.estimate);
    const now = clock();
    this.windowStart = now;
    this.periodStart = now;
  }

  get limit(): number {
    return this.current;
  }

  /** The baseline latency (ms) the gradient compares against; Infinity before the first window. */
  get minRtt(): number {
    return Math.min(this.periodMinRtt, this.previousPeriodMinRtt);
  }

  /** One completed request's upstream latency (ms) and the in-flight count when it started. */
  sample(rttMs: number, inflight: number): void {
    this.samples[this.sampleCount % MAX_SAMPLES_PER_WINDOW] = rttMs;
    this.sampleCount++;
    if (inflight > this.windowMaxInflight) this.windowMaxInflight = inflight;
    const now = this.clock();
    if (now - this.windowStart >= this.sampleWindowMs) this.closeWindow(now);
  }

  /** New bounds and tuning from now on; the learned limit and baseline are kept, clamped to the bounds. */
  reconfigure(opts: AdaptiveOptions): void {
    this.applyOptions(opts);
    this.estimate = this.clamp(this.estimate);
    this.current = Math.floor(this.estimate);
  }

  private applyOptions(opts: AdaptiveOptions): void {
    this.minLimit = Math.max(1, opts.minLimit);
    this.maxLimit = Math.max(this.minLimit, opts.maxLimit);
    this.smoothing = opts.smoothing ?? DEFAULT_SMOOTHING;
    this.sampleWindowMs = opts.sampleWindowMs ?? DEFAULT_SAMPLE_WINDOW_MS;
    this.minRttWindowMs = opts.minRttWindowMs ?? DEFAULT_MIN_RTT_WINDOW_MS;
  }

  private closeWindow(now: number): void {
    const windowRtt = medianOf(this.samples, Math.min(this.sampleCount, MAX_SAMPLES_PER_WINDOW));
    const maxInflight = this.windowMaxInflight;
    this.sampleCount = 0;
    this.windowMaxInflight = 0;
    this.windowStart = now;
    if (!(windowRtt >= 0)) return;
    this.trackMinRtt(windowRtt, now);
    this.estimate = this.nextEstimate(windowRtt, maxInflight);
    this.current = Math.floor(this.estimate);
  }

  private trackMinRtt(windowRtt: number, now: number): void {
    const elapsed = now - this.periodStart;
    if (elapsed >= this.minRttWindowMs) {
      // After a long idle spell the previous period's minimum is as stale as the current one's.
      this.previousPeriodMinRtt =
        elapsed >= 2 * this.minRttWindowMs ? Number.POSITIVE_INFINITY : this.periodMinRtt;
      this.periodMinRtt = Number.POSITIVE_INFINITY;
      this.periodStart = now;
    }
    if (windowRtt < this.periodMinRtt) this.periodMinRtt = windowRtt;
  }

  private nextEstimate(windowRtt: number, maxInflight: number): number {
    const estimate = this.estimate;
    const gradient = windowRtt <= 0 ? 1 : (RTT_TOLERANCE * this.minRtt + RTT_SLACK_MS) / windowRtt;
    const boundedGradient = Math.max(MIN_GRADIENT, Math.min(1, gradient));
    let target = estimate * boundedGradient + Math.sqrt(estimate);
    if (maxInflight < estimate / 2 && target > estimate) target = estimate;
    return this.clamp(estimate * (1 - this.smoothing) + target * this.smoothing);
  }

  private clamp(limit: number): number {
    return Math.max(this.minLimit, Math.min(this.maxLimit, limit));
  }
}

/** Median of the first `count` values; sorts them in place, which the caller no longer needs in order. */
function medianOf(values: Float64Array, count: number): number {
  if (count === 0) return Number.NaN;
  const window = values.subarray(0, count).sort();
  const middle = count >> 1;
  return count % 2 === 1 ? window[middle]! : (window[middle - 1]! + window[middle]!) / 2;
}
