import type { Clock } from './clock.js';
import { InflightLimiter } from './inflight-limiter.js';
import { PRIORITIES, type Priority, priorityRank, type Reserves, reserveFraction } from './priority.js';
import { RateMeter } from './rate-meter.js';
import { type SurgeChange, SurgeDetector, type SurgeOptions } from './surge-detector.js';
import { TokenBucket } from './token-bucket.js';

/**
 * Priority-aware admission for one region: should this request go upstream, or be shed now?
 *
 * Inputs: the request's priority, the region's limits (a token bucket of `rps` refill and `burst`
 * size, an in-flight cap, per-priority reserves, surge policy) and a clock. Three checks, in order:
 *
 * 1. Surge policy. While the surge detector says the region is surging and `shedBelow` is set,
 *    priorities strictly below it are shed (`surge`).
 * 2. Rate. A priority with reserve r may only take a token while at least `r * burst` tokens stay
 *    behind (`rate`). Critical has no reserve. Under overload the fill sinks until only the
 *    priorities whose floor lies below it still get tokens: low stops first, critical last.
 *    Critical traffic offered below `rps` (and no burstier than `burst`) spends less than the
 *    refill, so the bucket never sheds it however much lower-priority traffic is offered.
 * 3. Concurrency. The same reserves apply to the in-flight cap (`concurrency`), so slow upstreams
 *    filling every slot with low work cannot lock out critical requests.
 *
 * Rate and concurrency are both checked before either is committed, so a request shed for
 * concurrency never spends a token. An admitted request holds one token (spent for good) and one
 * in-flight slot (returned by `release`).
 *
 * Invariants. Over any run the region admits at most `rps * seconds + burst` requests, because
 * every admission (spillover included) takes a token and shadow mode takes none for the requests
 * it lets through against the decision. The floors never decrease with priority (each is at least
 * the one above it, whatever the reserves say), so a less important request is never admitted
 * when a more important one arriving at the same moment would be shed. Every floor stays at least
 * one token below the burst, so every priority can eventually be admitted and Retry-After is finite.
 *
 * Why hand-written: rate limiters in libraries (token buckets, sliding windows, Redis scripts)
 * answer yes or no for a key; none keeps per-priority floors in one shared bucket, ties them to
 * an in-flight cap with the same reserves, or lets a surge detector shed by priority.
 *
 * Failure modes: with `burst` below about 2 the floors collapse together and priorities are
 * barely told apart; a reserve of 0 for a priority makes it as strong as critical for that
 * resource. `tick` must be called about once a second or the surge state never changes.
 */

export type ShedReason = 'rate' | 'concurrency' | 'surge';

export interface AdmissionLimits {
  rps: number;
  burst: number;
  maxConcurrent: number;
  reserves: Reserves;
  /** The smallest Retry-After ever sent, in seconds. */
  retryAfterSeconds: number;
  surge: SurgeOptions & { shedBelow?: Priority };
}

/**
 * Where the bucket's tokens come from. `local`: the clock refills it at `share` of the configured
 * rate, up to `share` of the burst, so that several processes each enforcing a share enforce the
 * whole together. `leased`: the clock adds nothing; tokens leased from a store shared with other
 * gateways are deposited into it, up to `capacity`.
 */
export type TokenSupply =
  | { readonly kind: 'local'; readonly share: number }
  | { readonly kind: 'leased'; readonly capacity: number };

const WHOLE_LIMITS: TokenSupply = { kind: 'local', share: 1 };

export interface AdmissionSnapshot {
  tokens: number;
  inflight: number;
  inflightLimit: number;
  admittedRps: number;
  shedRps: number;
  baselineRps: number;
  currentRps: number;
  surging: boolean;
}

const LOW_RANK = priorityRank('low');
const NO_SURGE_SHEDDING = PRIORITIES.length;

export class RegionAdmission {
  readonly bucket: TokenBucket;
  readonly inflight: InflightLimiter;
  readonly surge: SurgeDetector;
  private readonly clock: Clock;
  private readonly admitted: RateMeter;
  private readonly shed: RateMeter;
  private limits: AdmissionLimits;
  private supply: TokenSupply = WHOLE_LIMITS;
  // Indexed by priority rank, so the request path does no lookups by name.
  private readonly tokenFloors = new Float64Array(PRIORITIES.length);
  private readonly slotReserves = new Float64Array(PRIORITIES.length);
  private surgeShedBelowRank: number = NO_SURGE_SHEDDING;

  constructor(limits: AdmissionLimits, clock: Clock) {
    const now = clock();
    this.clock = clock;
    this.limits = limits;
    this.bucket = new TokenBucket(limits.rps, limits.burst, now);
    this.inflight = new InflightLimiter(limits.maxConcurrent);
    this.surge = new SurgeDetector(limits.surge, now);
    this.admitted = new RateMeter(limits.surge.windowMs, now);
    this.shed = new RateMeter(limits.surge.windowMs, now);
    this.applyLimits(limits);
  }

  /**
   * Records the offered request, then decides. null = admitted: a token was taken and an in-flight
   * slot acquired (the caller releases exactly once). With `enforce` false (shadow mode) the
   * decision is returned the same way, but a shed request still acquires its slot (it goes
   * through, so the caller releases it too) and takes no token.
   */
  admit(priority: Priority, enforce: boolean): ShedReason | null {
    const now = this.clock();
    this.surge.record(now);
    const reason = this.decide(now, priorityRank(priority));
    if (reason === null) {
      this.bucket.take(now);
      this.inflight.acquire();
      this.admitted.record(now);
      return null;
    }
    this.shed.record(now);
    if (!enforce) this.inflight.acquire();
    return reason;
  }

  /**
   * Takes a request spilling over from another region, as `low`, so this region's own traffic comes
   * first. Counted as offered only when admitted: the home region already counted it.
   */
  admitSpillover(): boolean {
    const now = this.clock();
    if (this.decide(now, LOW_RANK) !== null) return false;
    this.surge.record(now);
    this.bucket.take(now);
    this.inflight.acquire();
    this.admitted.record(now);
    return true;
  }

  release(): void {
    this.inflight.release();
  }

  /** Seconds until this priority could get a token, rounded up, and never below the configured minimum. */
  retryAfterSeconds(priority: Priority): number {
    const ms = this.bucket.msUntilAvailable(this.clock(), this.tokenFloors[priorityRank(priority)]!);
    const seconds = Math.ceil(ms / 1000);
    if (!Number.isFinite(seconds)) return this.limits.retryAfterSeconds;
    return Math.max(seconds, this.limits.retryAfterSeconds);
  }

  /** Counts a request shed for a reason decided elsewhere (circuit open) as offered and shed. */
  recordShed(): void {
    const now = this.clock();
    this.surge.record(now);
    this.shed.record(now);
  }

  tick(): SurgeChange {
    return this.surge.tick(this.clock());
  }

  snapshot(): AdmissionSnapshot {
    const now = this.clock();
    return {
      tokens: this.bucket.tokens(now),
      inflight: this.inflight.inflight,
      inflightLimit: this.inflight.limit,
      admittedRps: this.admitted.rate(now),
      shedRps: this.shed.rate(now),
      baselineRps: this.surge.baselineRps(now),
      currentRps: this.surge.currentRps(now),
      surging: this.surge.surging,
    };
  }

  /** Applies new limits; tokens, requests in flight and the learned baseline are kept. */
  reconfigure(limits: AdmissionLimits): void {
    this.bucket.reconfigure(bucketRate(limits, this.supply), bucketSize(limits, this.supply), this.clock());
    this.inflight.setLimit(limits.maxConcurrent);
    this.surge.reconfigure(limits.surge);
    this.admitted.windowMs = limits.surge.windowMs;
    this.shed.windowMs = limits.surge.windowMs;
    this.limits = limits;
    this.applyLimits(limits);
  }

  /**
   * Switches where the bucket's tokens come from; it lasts across `reconfigure`. The token floors
   * follow the new size, and the fill keeps its fraction of the size, so the same priorities are
   * admitted right after the switch as right before it.
   */
  setTokenSupply(supply: TokenSupply): void {
    this.supply = supply;
    this.bucket.rescale(bucketRate(this.limits, supply), bucketSize(this.limits, supply), this.clock());
    this.applyLimits(this.limits);
  }

  get tokenSupply(): TokenSupply {
    return this.supply;
  }

  /** How many requests of a priority may be in flight at once. */
  slotLimit(priority: Priority): number {
    return this.inflight.slotsFor(this.slotReserves[priorityRank(priority)]!);
  }

  /** The token floor a priority must leave in the bucket. */
  tokenFloor(priority: Priority): number {
    return this.tokenFloors[priorityRank(priority)]!;
  }

  private decide(now: number, rank: number): ShedReason | null {
    if (rank > this.surgeShedBelowRank && this.surge.surging) return 'surge';
    if (!this.bucket.canTake(now, this.tokenFloors[rank]!)) return 'rate';
    if (!this.inflight.canAcquire(this.slotReserves[rank]!)) return 'concurrency';
    return null;
  }

  private applyLimits(limits: AdmissionLimits): void {
    const highestFloor = Math.max(0, this.bucket.burst - 1);
    let floor = 0;
    let reserve = 0;
    for (const priority of PRIORITIES) {
      const rank = priorityRank(priority);
      const fraction = reserveFraction(priority, limits.reserves);
      reserve = Math.max(reserve, fraction);
      floor = Math.min(highestFloor, Math.max(floor, fraction * this.bucket.burst));
      this.tokenFloors[rank] = floor;
      this.slotReserves[rank] = reserve;
    }
    const shedBelow = limits.surge.shedBelow;
    this.surgeShedBelowRank = shedBelow === undefined ? NO_SURGE_SHEDDING : priorityRank(shedBelow);
  }
}

function bucketRate(limits: AdmissionLimits, supply: TokenSupply): number {
  return supply.kind === 'local' ? limits.rps * supply.share : 0;
}

function bucketSize(limits: AdmissionLimits, supply: TokenSupply): number {
  return supply.kind === 'local' ? limits.burst * supply.share : supply.capacity;
}
