import type { Readable } from 'node:stream';
import type { GatewayConfig } from '../config/load.js';
import { type Route, RouteTable, upstreamPath } from '../routing/route-table.js';
import { AccessLineParser, type AccessRecord } from './access-line.js';
import { type ConfigOutcome, ConfigReplay } from './config-replay.js';
import { DurationEstimates } from './duration-estimates.js';
import { checkLogsReadable, LineReader, openLog } from './log-input.js';
import { ReorderBuffer } from './reorder-buffer.js';

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
  /** Of the skipped: access lines answered as bad input (a 4xx of Floodgate's own, before admission). */
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
}

/**
 * Reads the logs in step (always the one that is furthest behind in time), restores arrival order,
 * fills in the durations of requests refused live and offers every request to each config's replay.
 */
export async function runReplay(plan: ReplayPlan): Promise<ReplayOutcome> {
  await checkLogsReadable(plan.logs);
  const run = new ReplayRun(plan);
  const sources: Source[] = plan.logs.map((log) => ({
    reader: new LineReader(log, openLog(log, plan.stdin)),
    parser: new AccessLineParser(),
    readThrough: Number.NEGATIVE_INFINITY,
  }));
  const active = [...sources];
  while (active.length > 0) {
    const source = active.reduce((a, b) => (b.readThrough < a.readThrough ? b : a));
    const more = await source.reader.readChunk((text, start, end) => run.line(source, text, start, end));
    if (!more) active.splice(active.indexOf(source), 1);
    run.readThrough(Math.min(...active.map((s) => s.readThrough)));
  }
  for (const source of sources) run.skipped += source.reader.overlong;
  return run.finish();
}

class ReplayRun {
  skipped = 0;
  private badInput = 0;
  private seq = 0;
  private firstArrival = Number.NaN;
  private lastArrival = Number.NaN;
  private readonly plan: ReplayPlan;
  private readonly buffer: ReorderBuffer;
  private readonly durations = new DurationEstimates();
  private readonly routes: RouteTable;
  private readonly routeIds = new Map<Route, number>();
  private replays: ConfigReplay[] | undefined;
  private readonly offer = (record: AccessRecord) => this.replay(record);

  constructor(plan: ReplayPlan) {
    this.plan = plan;
    this.routes = new RouteTable(plan.configs[0]!.config);
    // No request outlasts the longest time a gateway lets one take; longer ones are seen and widen it.
    const longest = Math.max(...plan.configs.map(({ config }) => config.listen.requestTimeoutMs));
    this.buffer = new ReorderBuffer(longest, DISORDER_SLACK_MS);
  }

  line(source: Source, text: string, start: number, end: number): void {
    const record = source.parser.parse(text, start, end);
    if (record === 'other' || record === 'bad-input') {
      this.skipped++;
      if (record === 'bad-input') this.badInput++;
      return;
    }
    record.seq = this.seq++;
    record.route = this.routeId(record);
    if (Number.isNaN(record.durationMs)) record.durationMs = this.durations.own(record.home, record.route);
    else this.durations.observe(record.home, record.route, record.durationMs);
    if (record.end > source.readThrough) source.readThrough = record.end;
    this.buffer.push(record);
  }

  readThrough(endTime: number): void {
    if (endTime === Number.POSITIVE_INFINITY) return;
    this.buffer.readThrough(endTime);
    this.buffer.drain(this.offer);
  }

  finish(): ReplayOutcome {
    this.buffer.drainAll(this.offer);
    const replays = this.replays ?? this.startReplays(0);
    return {
      skipped: this.skipped,
      badInput: this.badInput,
      late: this.buffer.late,
      firstArrival: this.firstArrival,
      lastArrival: this.lastArrival,
      peakBuffered: this.buffer.peak,
      configs: replays.map((replay) => replay.finish()),
    };
  }

  private replay(record: AccessRecord): void {
    // Refused live with no admitted request of its route read before it: the estimate comes later.
    if (Number.isNaN(record.durationMs))
      record.durationMs = this.durations.withFallback(record.home, record.route);
    const replays = this.replays ?? this.startReplays(record.arrival);
    if (Number.isNaN(this.firstArrival)) this.firstArrival = record.arrival;
    if (!(record.arrival <= this.lastArrival)) this.lastArrival = record.arrival;
    for (const replay of replays) replay.offer(record);
  }

  /** Admission state starts at the first arrival: full buckets, nothing in flight. */
  private startReplays(startMs: number): ConfigReplay[] {
    this.replays = this.plan.configs.map(
      ({ label, config }) => new ConfigReplay({ label, config, startMs, perSecond: this.plan.perSecond }),
    );
    return this.replays;
  }

  private routeId(record: AccessRecord): number {
    const route = this.routes.match(upstreamPath(record.path) ?? record.path, record.method);
    let id = this.routeIds.get(route);
    if (id === undefined) {
      id = this.routeIds.size;
      this.routeIds.set(route, id);
    }
    return id;
  }
}
