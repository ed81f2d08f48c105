import type { Logger } from 'pino';
import type { Clock } from '../admission/clock.js';
import type { GatewayConfig } from '../config/load.js';
import { type LimitsDeps, type RunningGateway, startGateway } from '../start-gateway.js';
import { allOf, type LimitsPolicy, LocalShare, processShare } from './limits-policy.js';
import { RedisBaselineStore } from './redis-baseline.js';
import { RedisBucketStore } from './redis-bucket.js';
import { SharedBaseline } from './shared-baseline.js';
import { SharedLimits } from './shared-limits.js';

export interface ClusteredGatewayOptions {
  configPath: string;
  /** node:cluster workers of this instance splitting the limits between them; 1 when running alone. */
  workers: number;
  /** false in a worker: the primary answers the admin port for the whole group. */
  serveAdmin: boolean;
  /** Reads the config: the file by default; a worker parses the text its primary validated. */
  load?: () => Promise<GatewayConfig>;
  logger?: Logger;
  clock?: Clock;
  /** Timing of the shared limits, for tests. */
  sharedLimits?: { tickMs?: number; probeMs?: number };
  /** Timing and clock of the shared surge baseline, for tests. */
  sharedBaseline?: { tickMs?: number; wallClock?: () => number };
}

export interface ClusteredGateway extends RunningGateway {
  /** Where each region's tokens come from. */
  readonly limits: LimitsPolicy;
  /** The surge baselines shared through Redis, when `cluster.redis` is set. */
  readonly baseline: SharedBaseline | undefined;
}

/**
 * The gateway as one of several processes: each region's token supply is decided by a limits
 * policy (this process's share of the limits, or leases from Redis) before any runtime serves, and
 * the admin port is left to the primary when this process is one of several workers.
 */
export async function startClusteredGateway(options: ClusteredGatewayOptions): Promise<ClusteredGateway> {
  let limits: LimitsPolicy | undefined;
  let baseline: SharedBaseline | undefined;
  const running = await startGateway({
    configPath: options.configPath,
    load: options.load,
    logger: options.logger,
    clock: options.clock,
    serveAdmin: options.serveAdmin,
    limits: (config, deps) => {
      limits = limitsPolicyFor(config, options, deps);
      baseline = sharedBaselineFor(config, options, deps);
      return baseline === undefined ? limits : allOf([limits, baseline]);
    },
  });
  return Object.assign(running, { limits: limits!, baseline });
}

function sharedBaselineFor(
  config: GatewayConfig,
  options: ClusteredGatewayOptions,
  deps: LimitsDeps,
): SharedBaseline | undefined {
  const cluster = config.cluster;
  if (cluster?.redis === undefined) return undefined;
  return new SharedBaseline({
    store: new RedisBaselineStore({ url: cluster.redis, timeoutMs: cluster.timeoutMs }),
    keyPrefix: cluster.keyPrefix,
    clock: deps.clock,
    logger: deps.logger,
    ...options.sharedBaseline,
  });
}

function limitsPolicyFor(
  config: GatewayConfig,
  options: ClusteredGatewayOptions,
  deps: LimitsDeps,
): LimitsPolicy {
  const cluster = config.cluster;
  const share = processShare(options.workers, cluster?.instances ?? 1);
  if (cluster?.redis === undefined) return new LocalShare(share);
  return new SharedLimits({
    store: new RedisBucketStore({ url: cluster.redis, timeoutMs: cluster.timeoutMs }),
    keyPrefix: cluster.keyPrefix,
    fallbackShare: share,
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics.sharedLimits(),
    ...options.sharedLimits,
  });
}
