import type { Logger } from 'pino';
import type { Clock } from '../admission/clock.js';
import type { GatewayConfig } from '../config/load.js';
import { type LimitsDeps, type RunningGateway, startGateway } from '../start-gateway.js';
import { type LimitsPolicy, LocalShare, processShare } from './limits-policy.js';
import { RedisBucketStore } from './redis-bucket.js';
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
}

export interface ClusteredGateway extends RunningGateway {
  readonly limits: LimitsPolicy;
}

/**
 * The gateway as one of several processes: each region's token supply is decided by a limits
 * policy (this process's share of the limits, or leases from Redis) before any runtime serves, and
 * the admin port is left to the primary when this process is one of several workers.
 */
export async function startClusteredGateway(options: ClusteredGatewayOptions): Promise<ClusteredGateway> {
  const running = await startGateway({
    configPath: options.configPath,
    load: options.load,
    logger: options.logger,
    clock: options.clock,
    serveAdmin: options.serveAdmin,
    limits: (config, deps) => limitsPolicyFor(config, options, deps),
  });
  return running as ClusteredGateway;
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
