import { RateMeter } from './rate-meter.js';

/**
 * Surge detection: is a region being offered much more traffic than it normally sees?
 *
 * Inputs. Every request of the region's own users (admitted or shed) is `record`ed; requests failed
 * over to it from another region are not, because they are that region's surge, not this one's.
 * Requests are counted per whole second of the clock; `tick` (about once a second) folds each
 * completed second into the baseline and decides whether a surge began or ended.
 *
 * Baseline. An exponentially weighted moving average of offered requests per second, one sample
 * per completed second, with weight alpha = 1 - 2^(-1s / halfLife): a second from one half-life
 * ago counts half as much as the latest one. Seconds with no traffic are samples of zero, so an
 * idle region's baseline decays.
 *
 * - Where it starts. The baseline starts from a prior, `surge.baselineRps` (by default the region's
 *   `capacity.rps`, the traffic it is provisioned for), and learns from there. It never starts from
 *   zero, which would call the first normal traffic a surge, nor from the traffic of the first
 *   seconds: a gateway started, restarted or scaled out in the middle of a flood would take the
 *   flood for its normal and never report it, so `shedBelow` would never act when it is needed
 *   most. With a prior there is no warm-up either: a surge is reported at the first tick whose
 *   current rate crosses the threshold, within the current-rate window plus one second of its start
 *   (the rate meter covers its own lifetime until it has lived a whole window). The price is that a
 *   region whose real traffic is far below the prior is less sensitive until the baseline has
 *   learned down, about a half-life; choose `baselineRps` when the usual traffic is known.
 * - Surges. While a region surges the weights are ten times smaller (ten times the half-life), so
 *   a surge is not taken for the new normal at once; a surge that lasts for many half-lives does
 *   eventually become the baseline, which is what a permanent change in traffic should do.
 * - Share. A process that sees only a share of the region's traffic (one of several workers or
 *   instances) keeps its baseline, prior and `minRps` in its own units: all scaled by that share.
 * - Shared. With a reading of the whole group's baseline and rates (shared through Redis, see
 *   src/cluster/shared-baseline.ts), decisions use the group's baseline, scaled to this process's
 *   share, as long as the reading is fresh, and the higher of the group's and this process's own
 *   current rate; the local baseline keeps learning meanwhile and takes over when the reading goes
 *   stale, so an unreachable store falls back to what this process learned itself.
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
 * A prior far above the real traffic hides surges smaller than factor x prior until the baseline
 * has learned down. If `tick` stops being called, the surge state freezes; the baseline still
 * catches up with the seconds that passed the next time it is read.
 */

export interface SurgeOptions {
  factor: number;
  halfLifeMs: number;
  minRps: number;
  /** The current-rate window, at most 5000. */
  windowMs: number;
  /** Where the baseline starts, in requests per second of the whole region. */
  baselineRps: number;
}

export type SurgeChange = 'began' | 'ended' | null;

/** The whole group's view of one region, in requests per second of the whole region. */
export interface SharedSurgeReading {
  baselineRps: number;
  currentRps: number;
  /** The rate of the last completed second, for the end of a surge. */
  lastSecondRps: number;
}

/** What this process adds to the group's shared baseline in one round. */
export interface SurgeContribution {
  /** Requests offered since the last round. */
  offered: number;
  /** The prior of the whole region, for a group that has no baseline yet. */
  priorRps: number;
  alpha: number;
  surgingAlpha: number;
  surging: boolean;
  windowSeconds: number;
  halfLifeMs: number;
}

const SECOND_MS = 1000;
const SURGE_LEARNING_SLOWDOWN = 10;
const EXIT_RATIO = 0.8;
const CALM_MS = 3000;
/** A shared reading older than this is ignored: the store stopped answering. */
const SHARED_FRESH_MS = 3000;

interface View {
  baseline: number;
  current: number;
  lastSecond: number;
}

export class SurgeDetector {
  private opts: SurgeOptions;
  private readonly meter: RateMeter;
  private alpha = 0;
  private surgeAlpha = 0;
  private share = 1;
  private baseline: number;
  // The second currently being counted. The one the detector starts in is partial and not learned.
  private openSecond: number;
  // Before this, `now` surely floors to the open second or earlier (a millisecond short of the
  // next second, far beyond any rounding): most records skip the division.
  private openUntil: number;
  private openCount = 0;
  private openIsPartial = true;
  private isSurging = false;
  private calmSince = Number.NaN;
  private unshared = 0;
  private shared: SharedSurgeReading | undefined;
  private sharedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: SurgeOptions, now: number) {
    this.opts = opts;
    this.meter = new RateMeter(opts.windowMs, now);
    this.baseline = opts.baselineRps;
    this.openSecond = Math.floor(now / SECOND_MS);
    this.openUntil = openUntil(this.openSecond);
    this.setWeights(opts.halfLifeMs);
  }

  get surging(): boolean {
    return this.isSurging;
  }

  record(now: number): void {
    this.advance(now);
    this.openCount += 1;
    this.unshared += 1;
    this.meter.record(now);
  }

  tick(now: number): SurgeChange {
    this.advance(now);
    const view = this.view(now);
    const threshold = this.opts.factor * Math.max(view.baseline, this.opts.minRps * this.share);
    if (!this.isSurging) {
      if (view.current <= threshold) return null;
      this.isSurging = true;
      this.calmSince = Number.NaN;
      return 'began';
    }
    // Calm is judged on the last second alone: the whole window would still hold the surge's
    // seconds for its full length after the traffic has dropped, and shed for that long.
    if (view.lastSecond >= EXIT_RATIO * threshold) {
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
    return this.view(now).baseline;
  }

  currentRps(now: number): number {
    return this.view(now).current;
  }

  /** Applies new options; the learned baseline, the counted seconds and the surge state are kept. */
  reconfigure(opts: SurgeOptions): void {
    this.opts = opts;
    this.meter.windowMs = opts.windowMs;
    this.setWeights(opts.halfLifeMs);
  }

  /**
   * The share of the region's traffic this process sees (1 / processes sharing it). The learned
   * baseline is rescaled with it, so a baseline learned alone means the same after the switch.
   */
  setShare(share: number): void {
    if (!(share > 0) || share === this.share) return;
    this.baseline *= share / this.share;
    this.share = share;
  }

  /** What to add to the group's shared baseline; the offered count restarts from zero. */
  contribution(): SurgeContribution {
    const offered = this.unshared;
    this.unshared = 0;
    return {
      offered,
      priorRps: this.opts.baselineRps,
      alpha: this.alpha,
      surgingAlpha: this.surgeAlpha,
      surging: this.isSurging,
      windowSeconds: Math.max(1, Math.round(this.meter.windowMs / SECOND_MS)),
      halfLifeMs: this.opts.halfLifeMs,
    };
  }

  /** The group's reading of this region, or undefined when the store cannot be reached. */
  adoptShared(reading: SharedSurgeReading | undefined, now: number): void {
    this.shared = reading;
    this.sharedAt = reading === undefined ? Number.NEGATIVE_INFINITY : now;
  }

  private view(now: number): View {
    const current = this.meter.rate(now);
    const lastSecond = this.meter.rateOver(now, SECOND_MS);
    const shared = this.shared;
    if (shared === undefined || now - this.sharedAt > SHARED_FRESH_MS) {
      return { baseline: this.baseline, current, lastSecond };
    }
    // The group's rates lag by a second or two (they cover completed seconds) and a process may see
    // more than its share: whichever reads higher counts, so the shared view never hides a surge.
    return {
      baseline: shared.baselineRps * this.share,
      current: Math.max(shared.currentRps * this.share, current),
      lastSecond: Math.max(shared.lastSecondRps * this.share, lastSecond),
    };
  }

  private setWeights(halfLifeMs: number): void {
    this.alpha = 1 - 2 ** (-SECOND_MS / halfLifeMs);
    this.surgeAlpha = 1 - 2 ** (-SECOND_MS / (halfLifeMs * SURGE_LEARNING_SLOWDOWN));
  }

  /** Folds every second completed before `now` into the baseline. */
  private advance(now: number): void {
    if (now < this.openUntil) return;
    const second = Math.floor(now / SECOND_MS);
    if (second <= this.openSecond) return;
    const weight = this.isSurging ? this.surgeAlpha : this.alpha;
    if (this.openIsPartial) this.openIsPartial = false;
    else this.baseline += weight * (this.openCount - this.baseline);
    // Any number of idle seconds folds in one step: b * (1 - alpha)^k.
    const idle = second - this.openSecond - 1;
    if (idle > 0) this.baseline *= (1 - weight) ** idle;
    this.openSecond = second;
    this.openUntil = openUntil(second);
    this.openCount = 0;
  }
}

function openUntil(second: number): number {
  return (second + 1) * SECOND_MS - 1;
}
