import type { Logger } from 'pino';
import type { Clock } from '../admission/clock.js';
import type { RegionAdmission, TokenSupply } from '../admission/region-admission.js';
import type { SharedLimitsMetrics } from '../observability/metrics.js';
import { leaseFloor, leaseSize, localCapacity, tokensWanted } from './lease-plan.js';
import { type LimitedRegion, type LimitedRuntime, type LimitsPolicy, sameSupply } from './limits-policy.js';
import type { BucketStore, LeaseReply } from './redis-bucket.js';
import { startRounds } from './redis-client.js';

export interface SharedLimitsOptions {
  store: BucketStore;
  keyPrefix: string;
  /** The share of each region's limits this process enforces alone while the store is unreachable. */
  fallbackShare: number;
  clock: Clock;
  logger: Logger;
  metrics: SharedLimitsMetrics;
  /** How often the local buckets are checked for room; 0 leaves it to the caller (tests). */
  tickMs?: number;
  /** How often an unreachable store is tried again. */
  probeMs?: number;
}

interface LeaseState {
  inFlight: boolean;
  /** No lease before this time, unless the floor to ask at has dropped since (more important demand). */
  retryAt: number;
  floorAsked: number;
}

type State = 'starting' | 'up' | 'down';

const DEFAULT_TICK_MS = 10;
const DEFAULT_PROBE_MS = 500;
// An idle gateway leases nothing; it still checks the store this often, so the `up` gauge and the
// unavailable event tell the truth before traffic arrives.
const HEARTBEAT_MS = 1000;
// A lease refused for lack of tokens is asked again when the shared bucket should have them, but
// never later than this, so a wrong estimate (another gateway's config) cannot stall a region.
const MAX_RETRY_WAIT_MS = 100;

/**
 * Region limits shared by every gateway process that points at the same Redis (see lease-plan.ts
 * for the leasing algorithm and its bounds). A timer tops up each region's local bucket from the
 * shared one; the request path only ever spends local tokens.
 *
 * When a lease fails (Redis unreachable, or slower than the timeout), every region falls back at
 * once to this process's local share of its limits, refilled by the clock: requests keep being
 * admitted at a rate that, summed over the group, stays within the configured limits. The store is
 * tried again every `probeMs`; the first lease that succeeds switches every region back.
 */
export class SharedLimits implements LimitsPolicy {
  private state: State = 'starting';
  private regions: ReadonlyMap<string, LimitedRegion> = new Map();
  private configuredLeaseSize: number | undefined;
  // Keyed by the admission, which a reload keeps for a region that stays.
  private readonly leases = new WeakMap<RegionAdmission, LeaseState>();
  private readonly localSupply: TokenSupply;
  private readonly tickMs: number;
  private readonly probeMs: number;
  private probeAt = 0;
  private probing = false;
  private lastAnswerAt = 0;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SharedLimitsOptions) {
    this.localSupply = { kind: 'local', share: options.fallbackShare };
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.probeMs = options.probeMs ?? DEFAULT_PROBE_MS;
  }

  /** True while limits are shared through the store. */
  get up(): boolean {
    return this.state === 'up';
  }

  apply(runtime: LimitedRuntime): void {
    this.regions = runtime.regions;
    this.configuredLeaseSize = runtime.config.cluster?.leaseSize;
    let added = false;
    for (const region of this.regions.values()) {
      const known = this.leases.has(region.admission);
      this.applySupply(region);
      // Each process sees about its fallback share of the traffic, with Redis up or down.
      region.admission.setTrafficShare(this.options.fallbackShare);
      // A region a reload added starts with a full bucket of its own; while leasing, it may spend
      // only what it leased. The next round leases for it at once.
      if (!known && this.state === 'up') {
        region.admission.bucket.empty(this.options.clock());
        added = true;
      }
      this.leaseState(region);
    }
    if (added) void this.tick();
  }

  /** Empties every bucket (only leased tokens may be spent) and takes the first leases. */
  async start(): Promise<void> {
    const now = this.options.clock();
    for (const region of this.regions.values()) region.admission.bucket.empty(now);
    this.timer = await startRounds({
      store: this.options.store,
      onDown: (err) => this.becomeDown(err),
      round: () => this.tick(),
      everyMs: this.tickMs,
      closed: () => this.closed,
    });
  }

  /** One round: leases for every region with room, or a probe while the store is unreachable. */
  tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.state === 'down') return this.probe();
    const work: Promise<void>[] = [];
    if (this.options.clock() - this.lastAnswerAt >= HEARTBEAT_MS && !this.probing)
      work.push(this.heartbeat());
    for (const region of this.regions.values()) {
      if (this.dueForLease(region)) work.push(this.topUp(region));
    }
    return Promise.all(work).then(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.options.store.close();
  }

  private dueForLease(region: LimitedRegion): boolean {
    const lease = this.leaseState(region);
    if (lease.inFlight) return false;
    const now = this.options.clock();
    if (now >= lease.retryAt) return true;
    const tokens = region.admission.bucket.tokens(now);
    return leaseFloor(region.admission, tokens, region.config.capacity.burst) < lease.floorAsked;
  }

  /** Leases until the local bucket has no room for another whole lease, or the shared one runs short. */
  private async topUp(region: LimitedRegion): Promise<void> {
    const size = this.leaseSizeOf(region);
    const bucket = region.admission.bucket;
    const want = tokensWanted(bucket.tokens(this.options.clock()), bucket.burst, size);
    if (want === 0 || this.state === 'down') return;
    const reply = await this.lease(region, want);
    // The lease succeeded, so the store is up: keep going while the whole lease was granted.
    if (reply !== undefined && reply.granted === want) await this.topUp(region);
  }

  private async heartbeat(): Promise<void> {
    this.probing = true;
    try {
      await this.options.store.ping();
      this.lastAnswerAt = this.options.clock();
    } catch (err) {
      this.becomeDown(err);
    } finally {
      this.probing = false;
    }
  }

  private async probe(): Promise<void> {
    if (this.probing || this.options.clock() < this.probeAt) return;
    const first = this.regions.values().next();
    if (first.done) return;
    this.probing = true;
    const reply = await this.lease(first.value, this.leaseSizeOf(first.value));
    this.probing = false;
    if (reply === undefined) this.probeAt = this.options.clock() + this.probeMs;
    else await this.tick();
  }

  /** One lease; the reply once its tokens are deposited, undefined when the store failed. */
  private async lease(region: LimitedRegion, want: number): Promise<LeaseReply | undefined> {
    const lease = this.leaseState(region);
    const { rps, burst } = region.config.capacity;
    const floor = leaseFloor(region.admission, region.admission.bucket.tokens(this.options.clock()), burst);
    lease.inFlight = true;
    let reply: LeaseReply;
    try {
      reply = await this.options.store.lease({
        key: `${this.options.keyPrefix}:${region.name}`,
        rate: rps,
        burst,
        want,
        floor,
      });
    } catch (err) {
      this.options.metrics.lease(region.name, 'error', 0);
      this.becomeDown(err);
      return undefined;
    } finally {
      lease.inFlight = false;
    }
    if (this.closed) return undefined;
    this.lastAnswerAt = this.options.clock();
    this.options.metrics.lease(region.name, reply.granted > 0 ? 'granted' : 'empty', reply.granted);
    if (this.state !== 'up') this.becomeUp();
    const now = this.options.clock();
    region.admission.bucket.deposit(reply.granted, now);
    lease.floorAsked = floor;
    lease.retryAt = reply.granted < want ? now + Math.min(Math.max(reply.waitMs, 0), MAX_RETRY_WAIT_MS) : now;
    return reply;
  }

  private becomeDown(err: unknown): void {
    if (this.state === 'down' || this.closed) return;
    const starting = this.state === 'starting';
    this.state = 'down';
    this.probeAt = this.options.clock() + this.probeMs;
    const now = this.options.clock();
    for (const region of this.regions.values()) {
      this.applySupply(region);
      // Nothing was leased yet: start like a fresh local bucket, full to this process's share.
      if (starting) region.admission.bucket.deposit(region.admission.bucket.burst, now);
    }
    this.options.metrics.setUp(false);
    this.options.logger.warn(
      {
        event: 'shared-limits-unavailable',
        error: err instanceof Error ? err.message : String(err),
        fallbackShare: this.options.fallbackShare,
      },
      'shared limits unavailable: enforcing the local share of each region limit',
    );
  }

  private becomeUp(): void {
    const previous = this.state;
    this.state = 'up';
    for (const region of this.regions.values()) this.applySupply(region);
    this.options.metrics.setUp(true);
    const event = previous === 'down' ? 'shared-limits-restored' : 'shared-limits-connected';
    this.options.logger.info({ event }, event);
  }

  private applySupply(region: LimitedRegion): void {
    const next: TokenSupply =
      this.state === 'down'
        ? this.localSupply
        : { kind: 'leased', capacity: localCapacity(this.leaseSizeOf(region)) };
    if (!sameSupply(region.admission.tokenSupply, next)) region.admission.setTokenSupply(next);
  }

  private leaseSizeOf(region: LimitedRegion): number {
    const { rps, burst } = region.config.capacity;
    return leaseSize(rps, burst, this.configuredLeaseSize);
  }

  private leaseState(region: LimitedRegion): LeaseState {
    let lease = this.leases.get(region.admission);
    if (lease === undefined) {
      lease = { inFlight: false, retryAt: 0, floorAsked: Number.POSITIVE_INFINITY };
      this.leases.set(region.admission, lease);
    }
    return lease;
  }
}
