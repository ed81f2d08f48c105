import { RateMeter } from './rate-meter.js';

/**
 * Surge detection: is a region being offered much more traffic than it normally sees?
 *
 * Inputs. Every request offered to the region (admitted or shed) is `record`ed. Requests are
 * counted per whole second of the clock; `tick` (about once a second) folds each completed second
 * into the baseline and decides whether a surge began or ended.
 *
 * Baseline. An exponentially weighted moving average of offered requests per second, one sample
 * per completed second, with weight alpha = 1 - 2^(-1s / halfLife): a second from one half-life
 * ago counts half as much as the latest one. Seconds with no traffic are samples of zero, so an
 * idle region's baseline decays. Two refinements:
 *
 * - Cold start. A plain EWMA seeded at zero would call a freshly started gateway's normal traffic
 *   a surge and keep calling it one for about a half-life. So the baseline starts with the first
 *   observed traffic (idle time before it does not count, nor the partial first second) and while
 *   it has seen only n seconds it uses weight max(alpha, 1/n): the plain mean of what it has seen,
 *   until the mean's weight falls below the EWMA's. No surge is reported until the baseline has
 *   seen one full current-rate window.
 * - Surges. While a region surges the weights are ten times smaller (ten times the half-life), so
 *   a surge is not taken for the new normal at once; a surge that lasts for many half-lives does
 *   eventually become the baseline, which is what a permanent change in traffic should do.
 *
 * Decision. The current rate is a sliding window of at most five seconds (see rate-meter.ts). A
 * region starts surging when current > factor * max(baseline, minRps); `minRps` keeps a quiet
 * region's first few requests from reading as a surge. It stops only once the rate of the last
 * second has stayed below 0.8 of that threshold for three seconds (the whole window would keep a
 * dropped surge's seconds for its full length). The gap between the two thresholds and the hold
 * time are the hysteresis: traffic hovering around the threshold starts one surge and keeps it,
 * instead of flapping in and out with each tick and flooding the log with transitions.
 *
 * Failure modes. A region whose normal traffic ramps up faster than the baseline learns (for
 * example a daily peak steeper than `factor` within a half-life) is reported as surging; choose the
 * half-life and factor for the traffic's shape. A slow creep upwards is never a surge, by design.
 * If `tick` stops being called, the surge state freezes; the baseline still catches up with the
 * seconds that passed the next time it is read.
 */

export interface SurgeOptions {
  factor: number;
  halfLifeMs: number;
  minRps: number;
  /** The current-rate window, at most 5000. */
  windowMs: number;
}

export type SurgeChange = 'began' | 'ended' | null;

const SECOND_MS = 1000;
const SURGE_LEARNING_SLOWDOWN = 10;
const EXIT_RATIO = 0.8;
const CALM_MS = 3000;

export class SurgeDetector {
  private opts: SurgeOptions;
  private readonly meter: RateMeter;
  private alpha = 0;
  private surgeAlpha = 0;
  private baseline = 0;
  private learnedSeconds = 0;
  // The second currently being counted; undefined until the first request is seen.
  private openSecond: number | undefined;
  private openCount = 0;
  private openIsPartial = true;
  private isSurging = false;
  private calmSince = Number.NaN;

  constructor(opts: SurgeOptions, now: number) {
    this.opts = opts;
    this.meter = new RateMeter(opts.windowMs, now);
    this.setWeights(opts.halfLifeMs);
  }

  get surging(): boolean {
    return this.isSurging;
  }

  record(now: number): void {
    this.advance(now);
    if (this.openSecond === undefined) this.openSecond = Math.floor(now / SECOND_MS);
    this.openCount += 1;
    this.meter.record(now);
  }

  tick(now: number): SurgeChange {
    this.advance(now);
    if (this.learnedSeconds * SECOND_MS < this.meter.windowMs) return null;
    const threshold = this.opts.factor * Math.max(this.baseline, this.opts.minRps);
    const current = this.meter.rate(now);
    if (!this.isSurging) {
      if (current <= threshold) return null;
      this.isSurging = true;
      this.calmSince = Number.NaN;
      return 'began';
    }
    // Calm is judged on the last second alone: the whole window would still hold the surge's
    // seconds for its full length after the traffic has dropped, and shed for that long.
    if (this.meter.rateOver(now, SECOND_MS) >= EXIT_RATIO * threshold) {
      this.calmSince = Number.NaN;
      return null;
    }
    if (Number.isNaN(this.calmSince)) this.calmSince = now;
    if (now - this.calmSince < CALM_MS) return null;
    this.isSurging = false;
    this.calmSince = Number.NaN;
    return 'ended';
  }

  baselineRps(now: number): number {
    this.advance(now);
    return this.baseline;
  }

  currentRps(now: number): number {
    return this.meter.rate(now);
  }

  /** Applies new options; the learned baseline, the counted seconds and the surge state are kept. */
  reconfigure(opts: SurgeOptions): void {
    this.opts = opts;
    this.meter.windowMs = opts.windowMs;
    this.setWeights(opts.halfLifeMs);
  }

  private setWeights(halfLifeMs: number): void {
    this.alpha = 1 - 2 ** (-SECOND_MS / halfLifeMs);
    this.surgeAlpha = 1 - 2 ** (-SECOND_MS / (halfLifeMs * SURGE_LEARNING_SLOWDOWN));
  }

  /** Folds every second completed before `now` into the baseline. */
  private advance(now: number): void {
    if (this.openSecond === undefined) return;
    const second = Math.floor(now / SECOND_MS);
    if (second <= this.openSecond) return;
    if (this.openIsPartial) this.openIsPartial = false;
    else this.fold(this.openCount);
    this.foldIdleSeconds(second - this.openSecond - 1);
    this.openSecond = second;
    this.openCount = 0;
  }

  private fold(sample: number): void {
    this.learnedSeconds += 1;
    this.baseline += this.weight() * (sample - this.baseline);
  }

  private foldIdleSeconds(seconds: number): void {
    // While the baseline is still a plain mean, each idle second has its own weight; after that the
    // weight is constant and any number of zero samples folds in one step: b * (1 - alpha)^k.
    while (seconds > 0 && this.isWarmingUp()) {
      this.fold(0);
      seconds -= 1;
    }
    if (seconds <= 0) return;
    this.baseline *= (1 - (this.isSurging ? this.surgeAlpha : this.alpha)) ** seconds;
    this.learnedSeconds += seconds;
  }

  private isWarmingUp(): boolean {
    const n = this.learnedSeconds + 1;
    return this.isSurging ? 1 / (SURGE_LEARNING_SLOWDOWN * n) > this.surgeAlpha : 1 / n > this.alpha;
  }

  private weight(): number {
    const n = this.learnedSeconds;
    if (this.isSurging) return Math.max(this.surgeAlpha, 1 / (SURGE_LEARNING_SLOWDOWN * n));
    return Math.max(this.alpha, 1 / n);
  }
}
