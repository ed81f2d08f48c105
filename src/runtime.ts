import type { Logger } from 'pino';
import { ClientLimiter } from './admission/client-limiter.js';
import type { Clock } from './admission/clock.js';
import { StaleCache } from './cache/stale-cache.js';
import type { GatewayConfig } from './config/load.js';
import { TrustedProxies } from './http/client-ip.js';
import type { GatewayMetrics } from './observability/metrics.js';
import { Region, type RegionChange } from './region.js';
import { RouteTable } from './routing/route-table.js';

export interface RuntimeDeps {
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
}

/** Things a reload retired, to be closed once the requests still using them have finished. */
export interface Retired {
  regions: Region[];
  closeables: { close(): Promise<void> }[];
}

/**
 * A runtime built but not yet serving. Building touches nothing the previous runtime serves with:
 * kept regions and client buckets only get their next settings prepared. Exactly one of `commit`
 * (apply those settings; then the caller swaps the runtime in) and `discard` (drop what the build
 * made) follows, synchronously after the build, so no other reload can slip in between.
 */
export interface RuntimeBuild {
  readonly runtime: Runtime;
  commit(): Retired;
  discard(): Promise<void>;
}

/** What a build made or prepared, so that it can be committed or thrown away as a whole. */
class BuildParts {
  readonly created: Region[] = [];
  readonly changes: RegionChange[] = [];
  readonly settle: (() => void)[] = [];

  async discard(metrics: GatewayMetrics, previous: Runtime | undefined): Promise<void> {
    for (const region of this.created) {
      if (!previous?.regions.has(region.name)) metrics.forgetRegion(region.name);
    }
    await Promise.allSettled([
      ...this.created.map((r) => r.close()),
      ...this.changes.map((c) => c.discard()),
    ]);
  }
}

/**
 * Everything the request path reads from the config, built once per load. A request takes the
 * runtime current when it arrives and keeps it to the end, so a reload never changes the rules
 * under a request in flight. Live state (regions, client buckets, stale copies) is carried over
 * from the previous runtime wherever the new config keeps it.
 */
export class Runtime {
  readonly regions = new Map<string, Region>();
  readonly defaultRegion: Region;
  readonly regionHeader: string;
  readonly routes: RouteTable;
  readonly trusted: TrustedProxies;
  readonly enforce: boolean;
  readonly maxBodyBytes: number;
  /** The listener's `listen.maxHeaderBytes`, a restart-only setting: the first config's. */
  readonly maxHeaderBytes: number;
  readonly clientLimiter: ClientLimiter | undefined;
  /** `undefined` keys clients by address; otherwise the lower-case header that names them. */
  readonly clientKeyHeader: string | undefined;
  readonly staleCache: StaleCache;

  private constructor(
    readonly config: GatewayConfig,
    readonly version: number,
    previous: Runtime | undefined,
    deps: RuntimeDeps,
    parts: BuildParts,
  ) {
    for (const regionConfig of Object.values(config.regions)) {
      const kept = previous?.regions.get(regionConfig.name);
      if (kept) {
        parts.changes.push(kept.prepare(regionConfig, config));
        this.regions.set(regionConfig.name, kept);
      } else {
        const region = new Region(regionConfig, config, deps.clock, deps.metrics, deps.logger);
        parts.created.push(region);
        this.regions.set(regionConfig.name, region);
      }
    }
    const defaultRegion = this.regions.get(config.routing.default);
    if (defaultRegion === undefined)
      throw new Error(`routing.default names no region: ${config.routing.default}`);
    this.defaultRegion = defaultRegion;
    this.regionHeader = config.routing.header.toLowerCase();
    this.routes = new RouteTable(config);
    this.trusted = new TrustedProxies(config.trustedProxies);
    this.enforce = config.shedding.mode === 'enforce';
    this.maxBodyBytes = config.listen.maxBodyBytes;
    this.maxHeaderBytes = previous?.maxHeaderBytes ?? config.listen.maxHeaderBytes;
    this.clientLimiter = clientLimiterFor(config, previous, deps.clock, parts);
    const keyName = config.clientLimit?.key;
    this.clientKeyHeader = keyName?.startsWith('header:')
      ? keyName.slice('header:'.length).toLowerCase()
      : undefined;
    this.staleCache = staleCacheFor(config, previous, deps.clock);
  }

  /** Builds the runtime for `config`; throws (having closed whatever it made) when it cannot. */
  static build(
    config: GatewayConfig,
    version: number,
    previous: Runtime | undefined,
    deps: RuntimeDeps,
  ): RuntimeBuild {
    const parts = new BuildParts();
    let runtime: Runtime;
    try {
      runtime = new Runtime(config, version, previous, deps, parts);
    } catch (err) {
      void parts.discard(deps.metrics, previous);
      throw err;
    }
    return {
      runtime,
      commit: () => {
        const retired: Retired = { regions: [], closeables: [] };
        for (const change of parts.changes) {
          const replaced = change.commit();
          if (replaced) retired.closeables.push(replaced);
        }
        for (const settle of parts.settle) settle();
        for (const [name, region] of previous?.regions ?? []) {
          if (!runtime.regions.has(name)) retired.regions.push(region);
        }
        return retired;
      },
      discard: () => parts.discard(deps.metrics, previous),
    };
  }

  /** The home region named by the routing header, else the default. */
  regionFor(hint: string | string[] | undefined): Region {
    if (typeof hint === 'string') {
      const region = this.regions.get(hint);
      if (region !== undefined) return region;
    }
    return this.defaultRegion;
  }
}

function clientLimiterFor(
  config: GatewayConfig,
  previous: Runtime | undefined,
  clock: Clock,
  parts: BuildParts,
): ClientLimiter | undefined {
  const limit = config.clientLimit;
  if (limit === undefined) return undefined;
  const options = { rps: limit.rps, burst: limit.burst, maxKeys: limit.maxKeys };
  const kept = previous?.clientLimiter;
  if (kept === undefined || previous?.config.clientLimit?.key !== limit.key)
    return new ClientLimiter(options, clock);
  parts.settle.push(() => kept.reconfigure(options));
  return kept;
}

function staleCacheFor(config: GatewayConfig, previous: Runtime | undefined, clock: Clock): StaleCache {
  const { maxBytes, maxEntryBytes } = config.staleCache;
  const kept = previous?.staleCache;
  const bounds = previous?.config.staleCache;
  if (kept !== undefined && bounds?.maxBytes === maxBytes && bounds.maxEntryBytes === maxEntryBytes)
    return kept;
  // lru-cache's bound is fixed at construction: new bounds need a new store, which takes the copies.
  const next = new StaleCache({ maxBytes, maxEntryBytes }, clock);
  if (kept !== undefined) next.takeCopiesOf(kept);
  return next;
}
