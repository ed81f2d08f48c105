import type { Readable } from 'node:stream';
import type { GatewayConfig } from '../config/load.js';
import type { Route } from '../routing/route-table.js';
import { type AccessLine, AccessLineParser } from './access-line.js';
import { type ConfigOutcome, ConfigReplay } from './config-replay.js';
import { DurationEstimates } from './duration-estimates.js';
import { InternedStrings } from './interned-strings.js';
import { checkLogsReadable, LineReader, type LineSink, openLog } from './log-input.js';
import { ReorderBuffer } from './reorder-buffer.js';
import { emptyRequest, type ReadRequest, type ReplayRequest } from './replay-request.js';

export interface ReplayPlan {
  /** The configs to replay through, each with the name to report it by; the first sets the routes durations are kept by. */
  configs: ReadonlyArray<{ label: string; config: GatewayConfig }>;
  logs: readonly string[];
  /** Keep per-second counts (for the chart). */
  perSecond: boolean;
  /** What `-` reads; standard input unless a test says otherwise. */
  stdin?: Readable;
}

export interface ReplayOutcome {
  /** Lines that are not access lines (events, other output, junk), or access lines of requests refused as malformed. */
  skipped: number;
  /** Of the skipped: access lines of requests refused as bad input, before admission (outcome-kinds.ts). */
  badInput: number;
  /** Requests that turned up after later arrivals had been replayed (they lasted longer than any before). */
  late: number;
  /** Epoch ms of the first and last arrival; NaN for a log without requests. */
  firstArrival: number;
  lastArrival: number;
  /** The most requests held at once to restore arrival order. */
  peakBuffered: number;
  configs: ConfigOutcome[];
}

// Lines from several processes sharing one output can be a little out of order.
const DISORDER_SLACK_MS = 2000;

interface Source {
  reader: LineReader;
  parser: AccessLineParser;
  /** The latest end time read from this log so far. */
  readThrough: number;
  /** By the parser's line shape (AccessLine.shape): what the lines of that shape are routed to. */
  shapes: Array<Routed | undefined>;
  /** Hands this log's lines to the run: one function for the whole log, so its call sites keep one target. */
  sink: LineSink;
}

/** What a line's method and route key decide: its route's id, and each config's route priority rank. */
interface Routed {
  route: number;
  ranks: Int32Array;
}

/**
 * Reads the logs in step (always the one that is furthest behind in time), restores arrival order,
 * fills in the durations of requests refused live and offers every request to each config's replay.
 */
export async function runReplay(plan: ReplayPlan): Promise<ReplayOutcome> {
  await checkLogsReadable(plan.logs);
  const run = new ReplayRun(plan);
  const prefixes = plan.configs.flatMap(({ config }) => config.routes.map((route) => route.match.pathPrefix));
  const sources: Source[] = plan.logs.map((log) => {
    const source: Source = {
      reader: new LineReader(log, openLog(log, plan.stdin)),
      parser: new AccessLineParser(prefixes, run.clients),
      readThrough: Number.NEGATIVE_INFINITY,
      shapes: [],
      sink: (bytes, start, end) => run.line(source, bytes, start, end),
    };
    return source;
  });
  const active = [...sources];
  while (active.length > 0) {
    const source = active.reduce((a, b) => (b.readThrough < a.readThrough ? b : a));
    const more = await source.reader.readChunk(source.sink);
    if (!more) active.splice(active.indexOf(source), 1);
    run.readThrough(Math.min(...active.map((s) => s.readThrough)));
  }
  for (const source of sources) run.skipped += source.reader.overlong;
  return run.finish();
}

class ReplayRun {
  skipped = 0;
  /** Every log's client addresses, so that an id stands for the same one in all of them. */
  readonly clients = new InternedStrings();
  private badInput = 0;
  private seq = 0;
  private firstArrival = Number.NaN;
  private lastArrival = Number.NaN;
  private readonly buffer: ReorderBuffer;
  private readonly durations = new DurationEstimates();
  // Filled for every line: the reorder buffer keeps a copy.
  private readonly request: ReadRequest = emptyRequest();
  private readonly routeIds = new Map<Route, number>();
  private readonly replays: ConfigReplay[];
  private readonly keepClients: boolean;
  private readonly offer = (record: ReplayRequest) => this.replay(record);
  private readonly addressOf = (id: number) => this.clients.value(id);
  // Home regions' names by id, so that what keeps or looks up by region does so by a small number.
  private readonly homeIds = new Map<string, number>();
  private readonly homeNames: string[] = [];
  private readonly homeName = (id: number) => this.homeNames[id]!;

  constructor(plan: ReplayPlan) {
    this.replays = plan.configs.map(
      ({ label, config }, index) =>
        new ConfigReplay({
          label,
          config,
          index,
          perSecond: plan.perSecond,
          addressOf: this.addressOf,
          homeName: this.homeName,
        }),
    );
    this.keepClients = this.replays.some((replay) => replay.readsClients);
    // Answers normally end within the upstream timeout; longer ones (a slow stream) are seen and widen it.
    const longest = Math.max(
      ...plan.configs.flatMap(({ config }) =>
        Object.values(config.regions).map((region) => region.timeoutMs),
      ),
    );
    this.buffer = new ReorderBuffer(longest, DISORDER_SLACK_MS);
  }

  line(source: Source, bytes: Buffer, start: number, end: number): void {
    const line = source.parser.parse(bytes, start, end);
    if (line === 'other' || line === 'bad-input') {
      this.skipped++;
      if (line === 'bad-input') this.badInput++;
      return;
    }
    // Routing a line takes a few map lookups per config, each as dear as reading a fair part of
    // the line; lines of one shape are routed alike, so only the first of each is.
    const shape = line.shape;
    let routed = shape >= 0 ? source.shapes[shape] : undefined;
    if (routed === undefined) {
      routed = this.routed(line);
      if (shape >= 0) source.shapes[shape] = routed;
    }
    const route = routed.route;
    // The upstream's part: the waits before it (a pacing turn, a failover region's spare capacity)
    // were the live config's, and the replayed config's own pacing takes their place (config-replay.ts).
    let durationMs = line.waitMs > 0 ? Math.max(0, line.durationMs - line.waitMs) : line.durationMs;
    const home = this.homeId(line.home);
    if (line.refusedLive) durationMs = this.durations.own(home, route);
    else this.durations.observe(home, route, durationMs);
    // See ConfigReplay.routeRank: the client may have lowered its priority, never raised it.
    let ranks = 0;
    for (let i = 0; i < this.replays.length; i++)
      ranks |= Math.max(routed.ranks[i]!, line.loggedRank) << (2 * i);
    const request = this.request;
    request.arrival = line.end - line.durationMs;
    request.end = line.end;
    request.durationMs = durationMs;
    request.home = home;
    request.ranks = ranks;
    if (this.keepClients) source.parser.readClient(request);
    request.route = route;
    request.seq = this.seq++;
    this.buffer.push(request);
    if (line.end > source.readThrough) source.readThrough = line.end;
  }

  readThrough(endTime: number): void {
    if (endTime === Number.POSITIVE_INFINITY) return;
    this.buffer.readThrough(endTime);
    this.buffer.drain(this.offer);
  }

  finish(): ReplayOutcome {
    this.buffer.drainAll(this.offer);
    return {
      skipped: this.skipped,
      badInput: this.badInput,
      late: this.buffer.late,
      firstArrival: this.firstArrival,
      lastArrival: this.lastArrival,
      peakBuffered: this.buffer.peak,
      configs: this.replays.map((replay) => replay.finish()),
    };
  }

  private replay(record: ReplayRequest): void {
    // Refused live with no admitted request of its route read before it: the estimate comes later.
    if (Number.isNaN(record.durationMs))
      record.durationMs = this.durations.withFallback(record.home, record.route);
    if (Number.isNaN(this.firstArrival)) this.firstArrival = record.arrival;
    if (!(record.arrival <= this.lastArrival)) this.lastArrival = record.arrival;
    for (const replay of this.replays) replay.offer(record);
  }

  private routed(line: AccessLine): Routed {
    const ranks = new Int32Array(this.replays.length);
    let first: Route | undefined;
    for (let i = 0; i < this.replays.length; i++) {
      const replay = this.replays[i]!;
      const route = replay.route(line);
      first ??= route;
      ranks[i] = replay.routeRank(route);
    }
    return { route: this.routeId(first!), ranks };
  }

  private homeId(name: string): number {
    let id = this.homeIds.get(name);
    if (id === undefined) {
      id = this.homeNames.length;
      this.homeIds.set(name, id);
      this.homeNames.push(name);
    }
    return id;
  }

  private routeId(route: Route): number {
    let id = this.routeIds.get(route);
    if (id === undefined) {
      id = this.routeIds.size;
      this.routeIds.set(route, id);
    }
    return id;
  }
}
