import type { Logger } from 'pino';
import type { RegionView } from './admin/admin-view.js';
import { AdaptiveLimit, type AdaptiveOptions } from './admission/adaptive-limit.js';
import type { Clock } from './admission/clock.js';
import { RegionAdmission } from './admission/region-admission.js';
import { PACE_TOLERANCE, paceRps, SendPacer } from './admission/send-pacer.js';
import type { GatewayConfig, RegionConfig } from './config/load.js';
import { RefusalBodies } from './http/errors.js';
import { logEvent } from './observability/logger.js';
import type { GatewayMetrics, RegionMetrics } from './observability/metrics.js';
import { admissionLimits } from './region-limits.js';
import type { HoldCheck } from './request/hold.js';
import { type BreakerOptions, RegionBreaker } from './upstream/breaker.js';
import { UpstreamSet, type UpstreamTls } from './upstream/pools.js';

/**
 * One region's live state: admission, breaker, upstream pools, metrics. A reload that keeps the
 * region reconfigures this object instead of replacing it (`prepare`, then the change's `commit`),
 * so tokens, in-flight counts, the breaker and the learned baseline carry over.
 */
export class Region {
  readonly name: string;
  /** The name as a JSON string, for access lines. */
  readonly jsonName: string;
  readonly admission: RegionAdmission;
  /**
   * When admitted requests leave: a burst the bucket lets in goes at the refill pace (send-pacer.ts).
   * One schedule for the region's own requests and failover alike, so that together they never
   * reach the backend faster than that; failover takes only the turns own requests leave free.
   */
  readonly pacer: SendPacer;
  /** Requests failed over from elsewhere waiting for spare capacity here (request/failover-wait.ts). */
  private failoverWaits = 0;
  // Requests admitted here and waiting for their turn: a removed region closes its pools only after
  // these and the failover waits have ended, and admits no more failover once it has closed.
  private waiting = 0;
  private noneWaiting: (() => void) | undefined;
  private closed = false;
  readonly breaker: RegionBreaker;
  readonly metrics: RegionMetrics;
  readonly refusals: RefusalBodies;
  upstreams: UpstreamSet;
  adaptive: AdaptiveLimit | undefined;
  config: RegionConfig;

  constructor(
    config: RegionConfig,
    gateway: GatewayConfig,
    private readonly clock: Clock,
    metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    this.jsonName = JSON.stringify(config.name);
    this.config = config;
    this.pacer = new SendPacer(PACE_TOLERANCE, config.capacity.paceMaxWaitMs);
    // The pools first: were anything to throw, nothing with a timer (the breaker) exists yet.
    this.upstreams = new UpstreamSet(
      config.upstreams,
      connectionsPerHost(config),
      clock,
      upstreamTls(config, gateway),
    );
    this.admission = new RegionAdmission(admissionLimits(config, gateway), clock);
    this.breaker = new RegionBreaker(breakerOptions(config), (state) =>
      logEvent(logger, BREAKER_EVENTS[state], { region: this.name }),
    );
    this.metrics = metrics.region(this.name);
    this.refusals = new RefusalBodies(this.name);
    this.adaptive = config.capacity.adaptive ? new AdaptiveLimit(adaptiveOptions(config), clock) : undefined;
    this.followAdaptiveLimit();
  }

  /**
   * Builds what a reloaded region config needs (new pools when the upstreams change, an adaptive
   * limit when one is turned on) without touching this region, which keeps serving as it is until
   * the whole new runtime has been built and the change is committed.
   */
  prepare(config: RegionConfig, gateway: GatewayConfig): RegionChange {
    const limits = admissionLimits(config, gateway);
    const breakerChanged = JSON.stringify(this.config.breaker) !== JSON.stringify(config.breaker);
    // New hosts or TLS settings (a renewed CA file included) need new pools: connections are made once.
    const tls = upstreamTls(config, gateway);
    const upstreams = this.upstreams.sameSetup(config.upstreams, tls)
      ? undefined
      : new UpstreamSet(config.upstreams, connectionsPerHost(config), this.clock, tls);
    const adaptive =
      config.capacity.adaptive && this.adaptive === undefined
        ? new AdaptiveLimit(adaptiveOptions(config), this.clock)
        : undefined;
    return {
      commit: () => {
        this.config = config;
        this.pacer.maxWaitMs = config.capacity.paceMaxWaitMs;
        this.admission.reconfigure(limits);
        if (breakerChanged) this.breaker.reconfigure(breakerOptions(config));
        if (!config.capacity.adaptive) this.adaptive = undefined;
        else if (adaptive !== undefined) this.adaptive = adaptive;
        else this.adaptive?.reconfigure(adaptiveOptions(config));
        this.followAdaptiveLimit();
        if (upstreams === undefined) return undefined;
        const replaced = this.upstreams;
        this.upstreams = upstreams;
        return replaced;
      },
      discard: async () => {
        await upstreams?.close();
      },
    };
  }

  /** Once a second: folds the surge detector's window and follows the adaptive limit. */
  tick(): void {
    const change = this.admission.tick();
    if (change !== null) {
      const snapshot = this.admission.snapshot();
      logEvent(this.logger, `surge-${change}`, {
        region: this.name,
        currentRps: round(snapshot.currentRps),
        baselineRps: round(snapshot.baselineRps),
      });
    }
  }

  /** The pace admitted requests leave at (send-pacer.ts). */
  paceRps(): number {
    return paceRps(this.admission, this.config.capacity.rps);
  }

  /** Books the next turn for one of the region's own requests; returns how long it waits, in ms. */
  bookTurn(): number {
    return this.pacer.wait(this.clock(), this.paceRps());
  }

  /**
   * A turn for a request failed over to this region at `since`: one the region's own requests left
   * free, or any once it has waited `paceMaxWaitMs` (the longest any request waits for its turn).
   */
  spareTurn(since: number): HoldCheck {
    return () => {
      const now = this.clock();
      const left = since + this.pacer.maxWaitMs - now;
      const wait = this.pacer.spareTurn(now, this.paceRps(), left <= 0);
      return wait === 0 ? 0 : Math.max(1, Math.min(wait, left));
    };
  }

  /** An own request's client left before its turn: the turn goes to the next request. */
  giveTurnBack(): void {
    this.pacer.giveBack(this.clock(), this.paceRps());
  }

  /** Feeds one upstream round trip to the adaptive concurrency limit, when it is on. */
  sampleLatency(ms: number, inflightAtStart: number): void {
    if (this.adaptive === undefined) return;
    this.adaptive.sample(ms, inflightAtStart);
    this.followAdaptiveLimit();
  }

  private followAdaptiveLimit(): void {
    if (this.adaptive !== undefined) this.admission.inflight.setLimit(this.adaptive.limit);
  }

  view(): RegionView {
    const s = this.admission.snapshot();
    const latency = this.metrics.latency();
    return {
      breaker: this.breaker.state,
      inflight: s.inflight,
      inflightLimit: s.inflightLimit,
      tokens: s.tokens,
      burst: this.config.capacity.burst,
      rps: this.config.capacity.rps,
      admittedRps: s.admittedRps,
      shedRps: s.shedRps,
      baselineRps: s.baselineRps,
      currentRps: s.currentRps,
      surging: s.surging,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      outcomes: this.metrics.outcomes(),
      upstreamResponses: this.metrics.upstreamResponses(),
      shed: this.metrics.shedCounts(),
      upstreams: this.upstreams.hosts.map((h, i) => ({
        url: h.url,
        inflight: h.inflight,
        ejected: this.upstreams.ejection.isEjected(i),
      })),
    };
  }

  /** A request admitted here starts waiting for its turn; `turnCame` must follow exactly once. */
  awaitTurn(): void {
    this.waiting++;
  }

  turnCame(): void {
    this.waiting--;
    this.whenNoneWaits();
  }

  /** Requests from other regions waiting here for spare capacity. */
  get failoverWaiting(): number {
    return this.failoverWaits;
  }

  /** A failed-over request starts waiting here for spare capacity; false once the region has closed. */
  beginFailoverWait(): boolean {
    if (this.closed) return false;
    this.failoverWaits++;
    return true;
  }

  endFailoverWait(): void {
    this.failoverWaits--;
    this.whenNoneWaits();
  }

  /** Whether a failed-over request may still be admitted here: not once a reload has closed it. */
  get open(): boolean {
    return !this.closed;
  }

  /**
   * Once no admitted request still waits here (a reload dropped the region, none is dropped);
   * `abandon` (shutdown, its grace period over): what undici still holds a moment later is dropped
   * (see UpstreamSet.close).
   */
  async close(how: 'drain' | 'abandon' = 'drain'): Promise<void> {
    // A failover wait that ends with a permit starts a turn wait: the loop sees that one too.
    while (this.waiting > 0 || this.failoverWaits > 0)
      await new Promise<void>((resolve) => (this.noneWaiting = resolve));
    this.closed = true;
    this.breaker.shutdown();
    await this.upstreams.close(how);
  }

  private whenNoneWaits(): void {
    if (this.waiting === 0 && this.failoverWaits === 0) this.noneWaiting?.();
  }
}

/** A kept region's next settings, built but not applied: exactly one of its methods is called. */
export interface RegionChange {
  /** Applies the settings; returns the upstream set it replaced, to close once its requests finish. */
  commit(): UpstreamSet | undefined;
  /** Drops the settings, closing the pools made for them. */
  discard(): Promise<void>;
}

const BREAKER_EVENTS = {
  open: 'breaker-opened',
  'half-open': 'breaker-half-open',
  closed: 'breaker-closed',
} as const;

function breakerOptions(region: RegionConfig): BreakerOptions {
  return { ...region.breaker };
}

function adaptiveOptions(region: RegionConfig): AdaptiveOptions {
  return { minLimit: region.capacity.minConcurrent, maxLimit: region.capacity.maxConcurrent };
}

function upstreamTls(region: RegionConfig, gateway: GatewayConfig): UpstreamTls | undefined {
  const tls = region.tls;
  if (tls === undefined) return undefined;
  const ca = gateway.tlsMaterial.upstreamCa.get(region.name);
  return { ...(ca && { ca }), servername: tls.servername, rejectUnauthorized: tls.rejectUnauthorized };
}

function connectionsPerHost(region: RegionConfig): number {
  // Enough sockets for every admitted request to be in flight at once on a single host.
  return Math.max(1, region.capacity.maxConcurrent);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
