import { AdmissionFloors } from './admission-floors.js';
import type { AdmissionLimits, AdmissionSnapshot, ShedReason } from './admission-limits.js';
import type { Clock } from './clock.js';
import { InflightLimiter } from './inflight-limiter.js';
import { PRIORITIES, type Priority, priorityRank } from './priority.js';
import { RateMeter } from './rate-meter.js';
import { Shortage } from './shortage.js';
import { type SurgeChange, SurgeDetector } from './surge-detector.js';
import { TokenBucket } from './token-bucket.js';
import { bucketRate, bucketSize, type TokenSupply, WHOLE_LIMITS } from './token-supply.js';

/**
 * Priority-aware admission for one region: should this request go upstream, or be shed now?
 *
 * Inputs: the request's priority (or that it failed over from another region), the region's
 * limits (a token bucket of `rps` refill and `burst` size, an in-flight cap, per-priority reserves,
 * surge policy) and a clock. Three checks, in order:
 *
 * 1. Surge policy. While the surge detector says the region is surging and `shedBelow` is set,
 *    priorities strictly below it are shed (`surge`). Only the region's own requests are offered to
 *    the detector: requests failed over to it are another region's surge.
 * 2. Rate. A priority with reserve r may only take a token while at least `r * burst` tokens stay
 *    behind (`rate`). Critical has no reserve. Under overload the fill sinks until only the
 *    priorities whose floor lies below it still get tokens: low stops first, critical last.
 *    Critical traffic offered below `rps` (and no burstier than `burst`) spends less than the
 *    refill, so the bucket never sheds it however much lower-priority traffic is offered.
 * 3. Concurrency. The same reserves apply to the in-flight cap (`concurrency`), so slow upstreams
 *    filling every slot with low work cannot lock out critical requests.
 *
 * Work-conserving. A region offered traffic within its capacity answers all of it, whatever the
 * priority: the reserves decide who goes first only once the region runs short. Until then, every
 * priority but critical keeps back only the share that only critical may use (high's reserve, the
 * smallest) and borrows the rest, the way Netflix's partitioned limiter lends idle shares.
 *
 * - Slots are lent until the region runs short of them: one of its own requests was refused for
 *   concurrency within the last second (see shortage.ts). 14 slow low requests against a cap of 20
 *   all go through, and so does a region at 60% of its cap whose latency wobbles. A flood runs the
 *   region short at its first refusal, and from then on the full reserves hold while the flood keeps
 *   being refused: the borrowed slots come back as the flood's requests finish and low may not take
 *   them again, while critical's own share stayed free throughout.
 * - Tokens are lent until the region runs short of them: its own users offered at least the refill
 *   rate over the last second (a flood gets there within a few tens of milliseconds of starting;
 *   traffic within capacity never does, however bursty), and something more important than the
 *   request was offered too (a reserve kept for priorities that are idle protects no one). A
 *   refusal does not make a region short of tokens, unlike slots: a borrowed slot comes back when
 *   its request finishes, a borrowed token is spent for good, so the floors must be back in place
 *   before a flood has drained critical's cushion, not after its first refusal.
 *
 * Failover. A request failed over from another region (`admitSpillover`) is admitted from spare
 * capacity only. Its token must be a spare one: refill that arrived while the bucket was full and
 * would otherwise be lost (see token-bucket.ts), so it never takes a token the region's own users
 * could have had, at any priority, and it gets the whole rate they leave unused. (With leased
 * tokens, which are not refilled locally, it must instead leave more tokens than any priority's
 * floor: halfway between low's floor and the burst.) Its slot must lie within the line low may fill
 * under its full reserve, so own traffic keeps low's whole reserve beyond what failover can hold,
 * and none is taken while the region is short of slots, so what failover holds drains within one
 * upstream time and the full reserves are the region's own again. Failover refusals never make the
 * region short: another region's demand must not take lent capacity from the region's own users.
 *
 * Rate and concurrency are both checked before either is committed, so a request shed for
 * concurrency never spends a token. An admitted request holds one token (spent for good) and one
 * in-flight slot (returned by `release`). When it leaves is send-pacer.ts's decision.
 *
 * Invariants. Over any run the region admits at most `rps * seconds + burst` requests, because
 * every admission takes a token (failover a spare one, only ever refilled) and shadow mode takes
 * none for the requests it lets through against the decision. The floors never decrease with
 * priority, so a less important request is never admitted when a more important one arriving at
 * the same moment would be shed; every floor stays at least one token below the burst.
 *
 * Why hand-written: library rate limiters answer yes or no for a key; none keeps lendable
 * per-priority floors in one bucket tied to an in-flight cap, or sheds by priority in a surge.
 *
 * Failure modes: with `burst` below about 2 the floors collapse together and priorities are
 * barely told apart; with a tiny in-flight cap (under about 1 / (1 - low's reserve) slots) failover
 * gets no slot. A reserve of 0 makes a priority as strong as critical for that resource. A burst of
 * critical traffic larger than critical's own share, arriving while lower priorities have borrowed
 * everything else, waits for their requests to finish (the price of lending). `tick` must be
 * called about once a second or the surge state never changes.
 */

export type { AdmissionLimits, AdmissionSnapshot, ShedReason } from './admission-limits.js';
export type { TokenSupply } from './token-supply.js';

const LOW_RANK = priorityRank('low');
const NO_SURGE_SHEDDING = PRIORITIES.length;
/** How long one refusal keeps a region short of slots (see shortage.ts). */
const SHORTAGE_MEMORY_MS = 1000;
/** A priority not offered for this long lends its share of the bucket to the less important ones. */
const IDLE_MS = 1000;
/** Offered traffic is compared with the refill over this span to tell whether tokens run short. */
const DEMAND_SPAN_MS = 1000;

export class RegionAdmission {
  readonly bucket: TokenBucket;
  readonly inflight: InflightLimiter;
  readonly surge: SurgeDetector;
  private readonly clock: Clock;
  private readonly admitted: RateMeter;
  private readonly shed: RateMeter;
  /** The region's own offered requests (not failover), for whether it runs short of tokens. */
  private readonly demand: RateMeter;
  private limits: AdmissionLimits;
  private supply: TokenSupply = WHOLE_LIMITS;
  // Indexed by priority rank, so the request path does no lookups by name.
  private readonly floors = new AdmissionFloors();
  private readonly slotShortage = new Shortage(SHORTAGE_MEMORY_MS);
  /** When each priority was last offered by the region's own users. */
  private readonly lastOffered = new Float64Array(PRIORITIES.length).fill(Number.NEGATIVE_INFINITY);
  private surgeShedBelowRank: number = NO_SURGE_SHEDDING;
  private trafficShare = 1;

  constructor(limits: AdmissionLimits, clock: Clock) {
    const now = clock();
    this.clock = clock;
    this.limits = limits;
    this.bucket = new TokenBucket(limits.rps, limits.burst, now);
    this.inflight = new InflightLimiter(limits.maxConcurrent);
    this.surge = new SurgeDetector(limits.surge, now);
    this.admitted = new RateMeter(limits.surge.windowMs, now);
    this.shed = new RateMeter(limits.surge.windowMs, now);
    this.demand = new RateMeter(DEMAND_SPAN_MS, now);
    this.applyLimits(limits);
  }

  /**
   * Records the offered request, then decides. null = admitted: a token was taken and an in-flight
   * slot acquired (the caller releases exactly once). With `enforce` false (shadow mode) the
   * decision is returned the same way, but a shed request still acquires its slot (it goes
   * through, so the caller releases it too) and takes no token.
   */
  admit(priority: Priority, enforce: boolean): ShedReason | null {
    return this.admitRank(priorityRank(priority), enforce);
  }

  /** `admit`, for a caller that already holds the priority's rank (replay decides millions). */
  admitRank(rank: number, enforce: boolean): ShedReason | null {
    const now = this.clock();
    this.surge.record(now);
    this.demand.record(now);
    this.lastOffered[rank] = now;
    const reason = this.decide(now, rank);
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
   * Takes a request failed over from another region, from spare capacity only (see Failover above).
   * Not offered to the surge detector: the home region counted it, and it is not this region's surge.
   */
  admitSpillover(): boolean {
    const now = this.clock();
    if (LOW_RANK > this.surgeShedBelowRank && this.surge.surging) return false;
    const spare = this.bucket.canTakeSpare(now);
    // Leased tokens are never refilled locally, so nothing overflows: there the failover floor,
    // above every priority's, keeps the region's own traffic first.
    if (!spare && !(this.supply.kind === 'leased' && this.bucket.canTake(now, this.floors.failoverTokens)))
      return false;
    if (this.slotShortage.active(now)) return false;
    if (!this.inflight.canAcquireUpTo(this.floors.failoverSlots((r) => this.inflight.slotsFor(r))))
      return false;
    if (spare) this.bucket.takeSpare(now);
    else this.bucket.take(now);
    this.inflight.acquire();
    this.admitted.record(now);
    return true;
  }

  release(): void {
    this.inflight.release();
  }

  /** Seconds until this priority could get a token, rounded up, and never below the configured minimum. */
  retryAfterSeconds(priority: Priority): number {
    const now = this.clock();
    const ms = this.bucket.msUntilAvailable(now, this.tokenFloorAt(now, priorityRank(priority)));
    const seconds = Math.ceil(ms / 1000);
    if (!Number.isFinite(seconds)) return this.limits.retryAfterSeconds;
    return Math.max(seconds, this.limits.retryAfterSeconds);
  }

  /** Counts a request shed for a reason decided elsewhere (circuit open) as offered and shed. */
  recordShed(): void {
    const now = this.clock();
    this.surge.record(now);
    this.demand.record(now);
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

  /**
   * The share of the region's traffic this process sees, 1 / (processes sharing it): the surge
   * baseline is kept in this process's own units (see surge-detector.ts).
   */
  setTrafficShare(share: number): void {
    if (!(share > 0)) return;
    this.trafficShare = share;
    this.surge.setShare(share);
  }

  /** How many requests of a priority may be in flight at once while the region is short of slots. */
  slotLimit(priority: Priority): number {
    return this.inflight.slotsFor(this.floors.slotsShort[priorityRank(priority)]!);
  }

  /** The token floor a priority must leave in the bucket while more important traffic is offered. */
  tokenFloor(priority: Priority): number {
    return this.floors.tokensShort[priorityRank(priority)]!;
  }

  private decide(now: number, rank: number): ShedReason | null {
    if (rank > this.surgeShedBelowRank && this.surge.surging) return 'surge';
    // The configured floor first: whether the region lends is only worked out when it matters.
    if (!this.bucket.canTake(now, this.floors.tokensShort[rank]!)) {
      if (!this.lendsTokens(now, rank) || !this.bucket.canTake(now, this.floors.tokensLent[rank]!))
        return 'rate';
    }
    const reserves = this.slotShortage.active(now) ? this.floors.slotsShort : this.floors.slotsLent;
    if (!this.inflight.canAcquire(reserves[rank]!)) {
      this.slotShortage.note(now);
      return 'concurrency';
    }
    return null;
  }

  /** The configured floor while the region is short of tokens; the lent one otherwise. */
  private tokenFloorAt(now: number, rank: number): number {
    return this.lendsTokens(now, rank) ? this.floors.tokensLent[rank]! : this.floors.tokensShort[rank]!;
  }

  /** Lent unless the region is short of tokens and something more important is being offered. */
  private lendsTokens(now: number, rank: number): boolean {
    if (!this.shortOfTokens(now)) return true;
    for (let above = 0; above < rank; above++) {
      if (now - this.lastOffered[above]! < IDLE_MS) return false;
    }
    return true;
  }

  private shortOfTokens(now: number): boolean {
    // Leased tokens come with no local refill: this process's share of the region's rate stands in.
    const refill = this.supply.kind === 'local' ? this.bucket.rate : this.limits.rps * this.trafficShare;
    return this.demand.rateOver(now, DEMAND_SPAN_MS) >= refill;
  }

  private applyLimits(limits: AdmissionLimits): void {
    this.floors.update(limits.reserves, this.bucket.burst);
    const shedBelow = limits.surge.shedBelow;
    this.surgeShedBelowRank = shedBelow === undefined ? NO_SURGE_SHEDDING : priorityRank(shedBelow);
  }
}
