import { ClientLimiter } from '../admission/client-limiter.js';
import { PRIORITIES, priorityRank } from '../admission/priority.js';
import type { GatewayConfig } from '../config/load.js';
import { admissionLimits } from '../region-limits.js';
import { RouteTable, upstreamPath } from '../routing/route-table.js';
import type { AccessRecord } from './access-line.js';
import { RegionReplay, type ReplayShedReason } from './region-replay.js';
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

/**
 * The traffic of a log, request by request in arrival order, through one config's admission rules,
 * as the gateway's request path applies them: the client's own limit, then the home region's
 * admission (surge, rate, concurrency), each admitted request holding its slot for its duration.
 * Shadow mode decides and counts the same, but lets everything through (and so holds every slot).
 */
export class ConfigReplay {
  readonly label: string;
  private readonly clock: VirtualClock;
  private readonly timeline: Timeline;
  private readonly regions: RegionReplay[];
  private readonly byName = new Map<string, number>();
  private readonly defaultRegion: number;
  private readonly routes: RouteTable;
  private readonly enforce: boolean;
  private readonly clientLimiter: ClientLimiter | undefined;
  private readonly remapped = new Map<string, number>();
  private readonly notReplayed: string[] = [];
  private requests = 0;
  private withoutClient = 0;

  constructor(options: { label: string; config: GatewayConfig; startMs: number; perSecond: boolean }) {
    const { config } = options;
    this.label = options.label;
    this.clock = new VirtualClock(options.startMs);
    this.regions = Object.values(config.regions).map((region, index) => {
      this.byName.set(region.name, index);
      return new RegionReplay(
        region.name,
        admissionLimits(region, config),
        this.clock.read,
        options.perSecond,
      );
    });
    this.defaultRegion = this.byName.get(config.routing.default)!;
    this.timeline = new Timeline(this.clock, {
      release: (owner) => this.regions[owner]!.admission.release(),
      tick: () => {
        for (const region of this.regions) region.tick();
      },
    });
    this.routes = new RouteTable(config);
    this.enforce = config.shedding.mode === 'enforce';
    this.clientLimiter = this.clientLimiterFor(config);
    this.noteWhatIsNotReplayed(config);
  }

  /** Replays one request; its `durationMs` must be known by now. */
  offer(record: AccessRecord): void {
    this.timeline.runUntil(record.arrival);
    this.requests++;
    const index = this.regionIndex(record.home);
    const region = this.regions[index]!;
    const route = this.routes.match(upstreamPath(record.path) ?? record.path, record.method);
    // A logged priority below the route's is the client's own x-priority, which it may lower but not raise.
    const rank = Math.max(priorityRank(route.priority), record.loggedRank);
    const priority = PRIORITIES[rank]!;
    let clientRefused = false;
    if (this.clientLimiter !== undefined) {
      if (record.client === undefined) this.withoutClient++;
      else clientRefused = !this.clientLimiter.tryTake(record.client);
    }
    if (clientRefused && this.enforce) {
      region.noteClientRefusal();
      region.count(rank, 'client-rate');
      return;
    }
    const reason = region.admit(priority, this.enforce);
    // Shadow mode lets refused requests through too, so they hold a slot like admitted ones.
    if (reason === null || !this.enforce) this.timeline.releaseAt(this.clock.now + record.durationMs, index);
    const decided: ReplayShedReason | undefined = clientRefused ? 'client-rate' : (reason ?? undefined);
    region.count(rank, decided);
  }

  /** The log has ended. */
  finish(): ConfigOutcome {
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

  private regionIndex(name: string): number {
    const index = this.byName.get(name);
    if (index !== undefined) return index;
    this.remapped.set(name, (this.remapped.get(name) ?? 0) + 1);
    return this.defaultRegion;
  }

  private clientLimiterFor(config: GatewayConfig): ClientLimiter | undefined {
    const limit = config.clientLimit;
    if (limit === undefined) return undefined;
    if (limit.key !== 'ip') {
      this.notReplayed.push(
        `clientLimit is keyed by ${limit.key}, which access lines do not record: client limits are not replayed`,
      );
      return undefined;
    }
    return new ClientLimiter({ rps: limit.rps, burst: limit.burst, maxKeys: limit.maxKeys }, this.clock.read);
  }

  private noteWhatIsNotReplayed(config: GatewayConfig): void {
    const adaptive = Object.values(config.regions).filter((region) => region.capacity.adaptive);
    if (adaptive.length > 0) {
      this.notReplayed.push(
        `adaptive in-flight caps (${adaptive.map((r) => r.name).join(', ')}) are replayed at their maxConcurrent`,
      );
    }
  }
}
