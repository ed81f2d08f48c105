import type { Logger } from 'pino';
import type { RegionView } from './admin/admin-view.js';
import { AdaptiveLimit, type AdaptiveOptions } from './admission/adaptive-limit.js';
import type { Clock } from './admission/clock.js';
import { RegionAdmission } from './admission/region-admission.js';
import type { GatewayConfig, RegionConfig } from './config/load.js';
import { RefusalBodies } from './http/errors.js';
import { logEvent } from './observability/logger.js';
import type { GatewayMetrics, RegionMetrics } from './observability/metrics.js';
import { admissionLimits } from './region-limits.js';
import { type BreakerOptions, RegionBreaker } from './upstream/breaker.js';
import { UpstreamSet } from './upstream/pools.js';

/**
 * One region's live state: admission, breaker, upstream pools, metrics. A reload that keeps the
 * region reconfigures this object instead of replacing it, so tokens, in-flight counts, the breaker
 * and the learned baseline carry over.
 */
export class Region {
  readonly name: string;
  /** The name as a JSON string, for access lines. */
  readonly jsonName: string;
  readonly admission: RegionAdmission;
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
    this.admission = new RegionAdmission(admissionLimits(config, gateway), clock);
    this.breaker = new RegionBreaker(breakerOptions(config), (state) =>
      logEvent(logger, BREAKER_EVENTS[state], { region: this.name }),
    );
    this.metrics = metrics.region(this.name);
    this.refusals = new RefusalBodies(this.name);
    this.upstreams = new UpstreamSet(config.upstreams, connectionsPerHost(config), clock);
    this.adaptive = config.capacity.adaptive ? new AdaptiveLimit(adaptiveOptions(config), clock) : undefined;
    this.followAdaptiveLimit();
  }

  /** Applies a reloaded region config; returns the upstream set that was replaced, if any, to close once drained. */
  reconfigure(config: RegionConfig, gateway: GatewayConfig): UpstreamSet | undefined {
    const previous = this.config;
    this.config = config;
    this.admission.reconfigure(admissionLimits(config, gateway));
    if (JSON.stringify(previous.breaker) !== JSON.stringify(config.breaker)) {
      this.breaker.reconfigure(breakerOptions(config));
    }
    if (!config.capacity.adaptive) this.adaptive = undefined;
    else if (this.adaptive) this.adaptive.reconfigure(adaptiveOptions(config));
    else this.adaptive = new AdaptiveLimit(adaptiveOptions(config), this.clock);
    this.followAdaptiveLimit();
    if (this.upstreams.sameHosts(config.upstreams)) return undefined;
    const replaced = this.upstreams;
    this.upstreams = new UpstreamSet(config.upstreams, connectionsPerHost(config), this.clock);
    return replaced;
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
      shed: this.metrics.shedCounts(),
      upstreams: this.upstreams.hosts.map((h, i) => ({
        url: h.url,
        inflight: h.inflight,
        ejected: this.upstreams.ejection.isEjected(i),
      })),
    };
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.upstreams.close();
  }
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

function connectionsPerHost(region: RegionConfig): number {
  // Enough sockets for every admitted request to be in flight at once on a single host.
  return Math.max(1, region.capacity.maxConcurrent);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
