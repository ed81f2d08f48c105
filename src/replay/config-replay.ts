import { priorityRank } from '../admission/priority.js';
import type { GatewayConfig } from '../config/load.js';
import { admissionLimits } from '../region-limits.js';
import { type Route, RouteTable, upstreamPath } from '../routing/route-table.js';
import type { AccessLine } from './access-line.js';
import { ClientReplay } from './client-replay.js';
import { NO_ID } from './interned-strings.js';
import { RegionReplay, type ReplayShedReason } from './region-replay.js';
import { type ReplayRequest, rankFor } from './replay-request.js';
import { Timeline, VirtualClock } from './virtual-clock.js';

/** What one config did with the replayed traffic. */
export interface ConfigOutcome {
  label: string;
  enforce: boolean;
  requests: number;
  regions: RegionReplay[];
  /** Requests whose region the config does not have, by that region's name: replayed in routing.default. */
  remapped: Map<string, number>;
  /** Requests with no logged client address while client limits by ip were on: not checked. */
  withoutClient: number;
  /** Parts of the config replay could not honour, in words. */
  notReplayed: string[];
}

const METHOD_CACHE_LIMIT = 64;
const ROUTE_CACHE_LIMIT = 10_000;
const REMAPPED = -1;

/**
 * The traffic of a log, request by request in arrival order, through one config's admission rules,
 * as the gateway's request path applies them: the client's own limit, then the home region's
 * admission (surge, rate, concurrency), each admitted request holding its slot for its duration.
 * Shadow mode decides and counts the same, but lets everything through (and so holds every slot).
 */
export class ConfigReplay {
  readonly label: string;
  private readonly config: GatewayConfig;
  private readonly perSecond: boolean;
  private readonly addressOf: (id: number) => string;
  private readonly homeName: (id: number) => string;
  // By home region id: the index of the region of that name, or REMAPPED.
  private readonly byHome: number[] = [];
  private readonly byName = new Map<string, number>();
  private readonly defaultRegion: number;
  private readonly routes: RouteTable;
  private readonly routeCache = new Map<string, Map<string, Route>>();
  private readonly index: number;
  private readonly enforce: boolean;
  private readonly remapped = new Map<string, number>();
  private readonly notReplayed: string[] = [];
  private requests = 0;
  private withoutClient = 0;
  // Made by `start`, at the first arrival, so that every bucket starts full at the log's first request.
  private clock = new VirtualClock(0);
  private timeline: Timeline | undefined;
  private regions: RegionReplay[] = [];
  private clientLimit: ClientReplay | undefined;

  constructor(options: {
    label: string;
    config: GatewayConfig;
    /** Which of the replayed configs this is (its rank's place in ReplayRequest.ranks). */
    index: number;
    perSecond: boolean;
    /** The address a client's id stands for (see ClientFields). */
    addressOf: (id: number) => string;
    /** The name a home region's id stands for (ReplayRequest.home). */
    homeName: (id: number) => string;
  }) {
    const { config } = options;
    this.label = options.label;
    this.config = config;
    this.index = options.index;
    this.perSecond = options.perSecond;
    this.addressOf = options.addressOf;
    this.homeName = options.homeName;
    for (const [index, name] of Object.keys(config.regions).entries()) this.byName.set(name, index);
    this.defaultRegion = this.byName.get(config.routing.default)!;
    this.routes = new RouteTable(config);
    this.enforce = config.shedding.mode === 'enforce';
    this.noteWhatIsNotReplayed(config);
  }

  /** Sets up admission at the time of the first request: full buckets, nothing in flight, no baseline yet. */
  start(startMs: number): void {
    const config = this.config;
    this.clock = new VirtualClock(startMs);
    this.regions = Object.values(config.regions).map(
      (region) =>
        new RegionReplay({
          region,
          limits: admissionLimits(region, config),
          clock: this.clock.read,
          withSeries: this.perSecond,
        }),
    );
    this.timeline = new Timeline(this.clock, {
      release: (owner) => this.regions[owner]!.admission.release(),
      tick: () => {
        for (const region of this.regions) region.tick();
      },
    });
    const limit = config.clientLimit;
    if (limit?.key === 'ip')
      this.clientLimit = new ClientReplay(
        { rps: limit.rps, burst: limit.burst, maxKeys: limit.maxKeys },
        this.clock.read,
        this.addressOf,
      );
  }

  /** Whether requests need their logged client kept: only client limits by ip read it. */
  get readsClients(): boolean {
    return this.config.clientLimit?.key === 'ip';
  }

  /** The route this config gives a line. */
  route(line: AccessLine): Route {
    // Route keys repeat (see AccessLine.routeKey), so each is matched once per method.
    let known = this.routeCache.get(line.method);
    if (known === undefined) {
      // Methods are the client's to choose: a log of many made-up ones must not grow this without end.
      if (this.routeCache.size >= METHOD_CACHE_LIMIT) this.routeCache.clear();
      known = new Map();
      this.routeCache.set(line.method, known);
    }
    let route = known.get(line.routeKey);
    if (route === undefined) {
      route = this.routes.match(upstreamPath(line.routeKey) ?? line.routeKey, line.method);
      if (known.size >= ROUTE_CACHE_LIMIT) known.clear();
      known.set(line.routeKey, route);
    }
    return route;
  }

  /**
   * The rank of a route's priority. A line runs at it unless the log says the client lowered it
   * (x-priority may not raise it): the larger of this and the line's logged rank.
   */
  routeRank(route: Route): number {
    return priorityRank(route.priority);
  }

  /** Replays one request; its `durationMs` must be known by now. */
  offer(record: ReplayRequest): void {
    if (this.timeline === undefined) this.start(record.arrival);
    this.timeline!.runUntil(record.arrival);
    this.requests++;
    const index = this.regionIndex(record.home);
    const region = this.regions[index]!;
    const rank = rankFor(record, this.index);
    let clientRefused = false;
    if (this.clientLimit !== undefined) {
      if (record.clientId === NO_ID && record.client === undefined) this.withoutClient++;
      else clientRefused = !this.clientLimit.tryTake(record);
    }
    if (clientRefused && this.enforce) {
      region.noteClientRefusal();
      region.count(rank, 'client-rate');
      return;
    }
    const reason = region.admitRank(rank, this.enforce);
    // An admitted request waits for its pacing turn holding its slot, then for its upstream. Shadow
    // mode lets refused requests through too (by the client limit or the region): they hold a
    // slot, but leave at once (gateway.ts).
    if (reason === null && !clientRefused)
      this.timeline!.releaseAt(this.clock.now + region.paceWait() + record.durationMs, index);
    else if (!this.enforce) this.timeline!.releaseAt(this.clock.now + record.durationMs, index);
    const decided: ReplayShedReason | undefined = clientRefused ? 'client-rate' : (reason ?? undefined);
    region.count(rank, decided);
  }

  /** The log has ended. */
  finish(): ConfigOutcome {
    if (this.timeline === undefined) this.start(0);
    for (const region of this.regions) region.finish();
    return {
      label: this.label,
      enforce: this.enforce,
      requests: this.requests,
      regions: this.regions,
      remapped: this.remapped,
      withoutClient: this.withoutClient,
      notReplayed: this.notReplayed,
    };
  }

  private regionIndex(home: number): number {
    let index = this.byHome[home];
    if (index === undefined) {
      index = this.byName.get(this.homeName(home)) ?? REMAPPED;
      this.byHome[home] = index;
    }
    if (index !== REMAPPED) return index;
    const name = this.homeName(home);
    this.remapped.set(name, (this.remapped.get(name) ?? 0) + 1);
    return this.defaultRegion;
  }

  private noteWhatIsNotReplayed(config: GatewayConfig): void {
    const key = config.clientLimit?.key;
    if (key !== undefined && key !== 'ip') {
      this.notReplayed.push(
        `clientLimit is keyed by ${key}, which access lines do not record: client limits are not replayed`,
      );
    }
    const adaptive = Object.values(config.regions).filter((region) => region.capacity.adaptive);
    if (adaptive.length > 0) {
      this.notReplayed.push(
        `adaptive in-flight caps (${adaptive.map((r) => r.name).join(', ')}) are replayed at their maxConcurrent`,
      );
    }
  }
}
