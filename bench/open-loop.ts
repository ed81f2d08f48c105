import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { type LatencySummary, summarizeLatency } from './latency.js';
import { assertLoopback } from './loopback.js';
import { seededRandom, seedFromText } from './sim/random.js';
import { countOutcome, emptyCounts, type OutcomeCounts } from './tally.js';
import { carriesCounts, classifyAnswer, type Kind, type Outcome, pathFor } from './traffic-mix.js';

/** One kind of request from one region's clients. */
export interface LoadStream {
  name: string;
  region: string;
  kind: Kind;
}

/** A stretch of the run with a fixed offered rate (requests per second) per stream name. */
export interface LoadPhase {
  name: string;
  durationMs: number;
  rates: Record<string, number>;
}

export interface OpenLoopOptions {
  url: string;
  /**
   * The gateways to spread requests over, asked for every request and taken in turn, the way an L7
   * load balancer would (restarts and scale-out change it during the run); `[url]` when not given.
   */
  targets?: () => readonly string[];
  streams: LoadStream[];
  phases: LoadPhase[];
  /** A client gives up on a request after this long. */
  timeoutMs: number;
  /** Width of the timeline's slices; 1000 unless finer timing is wanted. */
  bucketMs?: number;
  onSecond?: (second: SecondReport) => void;
}

export interface SecondReport {
  second: number;
  phase: string;
  elapsedMs: number;
  totalMs: number;
  sent: number;
  good: number;
}

export interface StreamPhaseResult extends OutcomeCounts {
  /** Latency of `ok` answers, from the moment the request was due. */
  latencyMs: LatencySummary;
  servedBy: Record<string, number>;
}

export interface TimelineSlice {
  startMs: number;
  phase: string;
  streams: Record<string, OutcomeCounts>;
}

export interface OpenLoopResult {
  phases: Array<{ name: string; durationMs: number; streams: Record<string, StreamPhaseResult> }>;
  /**
   * Per phase, the longest gap between two sending ticks: above ~100 ms the generator itself was
   * held up and offered less than planned.
   */
  longestStallsMs: number[];
  /** Per slice of `bucketMs` (by send time): outcome counts per stream. */
  timeline: TimelineSlice[];
  bucketMs: number;
  /** Per target URL: outcome counts per stream, over the whole run. */
  byTarget: Record<string, Record<string, OutcomeCounts>>;
}

const TICK_MS = 5;
/**
 * After a stall (a busy machine, a long GC) the requests due meanwhile are not sent in one burst,
 * which no real crowd of users produces; the stall is recorded instead.
 */
const MAX_CATCH_UP_MS = 100;

/**
 * Sends each stream's requests at its offered rate whatever the answers do (an open loop), the way
 * independent users keep arriving when a site slows down. A closed loop would slow its own sending
 * as latency climbs and hide exactly the collapse these scenarios are about.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  assertLoopback(options.url);
  return new OpenLoopRun(options).run();
}

class OpenLoopRun {
  private readonly pools = new Map<string, Pool>();
  private readonly byTarget: OpenLoopResult['byTarget'] = {};
  private nextTarget = 0;
  private readonly totalMs: number;
  private readonly bucketMs: number;
  private readonly phaseResults: OpenLoopResult['phases'];
  private readonly okLatencies: number[][][];
  private readonly timeline: OpenLoopResult['timeline'] = [];
  private readonly sequence: number[];
  private readonly longestStalls: number[];
  private readonly credit: number[];
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private secondSent = 0;
  private secondGood = 0;
  private reportedSecond = 0;

  constructor(private readonly options: OpenLoopOptions) {
    this.totalMs = options.phases.reduce((sum, phase) => sum + phase.durationMs, 0);
    this.bucketMs = options.bucketMs ?? 1000;
    this.phaseResults = options.phases.map((phase) => ({
      name: phase.name,
      durationMs: phase.durationMs,
      streams: Object.fromEntries(
        options.streams.map((stream) => [
          stream.name,
          { ...emptyCounts(), latencyMs: summarizeLatency([]), servedBy: {} },
        ]),
      ),
    }));
    this.okLatencies = options.phases.map(() => options.streams.map(() => []));
    this.sequence = options.streams.map(() => 0);
    this.longestStalls = options.phases.map(() => 0);
    // Each stream starts at its own (seeded) point of its period. Started together, every stream
    // would fire in the same tick whenever their periods line up (every 1.67 s for the video site's
    // rates): a burst of one request per stream that independent crowds of users never send.
    this.credit = options.streams.map((stream) => seededRandom(seedFromText(stream.name))());
  }

  async run(): Promise<OpenLoopResult> {
    const start = performance.now();
    let last = 0;
    await new Promise<void>((resolve) => {
      const ticker = setInterval(() => {
        const elapsed = performance.now() - start;
        this.noteStall(last, elapsed);
        if (elapsed >= this.totalMs) {
          clearInterval(ticker);
          resolve();
          return;
        }
        this.sendDue(start, elapsed, Math.min(elapsed - last, MAX_CATCH_UP_MS));
        this.reportSecond(elapsed);
        last = elapsed;
      }, TICK_MS);
    });
    this.reportSecond(this.totalMs + 1000);
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
    for (const [p, phase] of this.phaseResults.entries()) {
      for (const [s, stream] of this.options.streams.entries()) {
        phase.streams[stream.name]!.latencyMs = summarizeLatency(this.okLatencies[p]![s]!);
      }
    }
    return {
      phases: this.phaseResults,
      timeline: this.timeline,
      bucketMs: this.bucketMs,
      longestStallsMs: this.longestStalls,
      byTarget: this.byTarget,
    };
  }

  /** A gap between ticks counts against every phase it overlaps. */
  private noteStall(fromMs: number, toMs: number): void {
    const gap = Math.round(toMs - fromMs);
    let start = 0;
    for (const [index, phase] of this.options.phases.entries()) {
      const end = start + phase.durationMs;
      if (fromMs < end && toMs > start && gap > this.longestStalls[index]!) this.longestStalls[index] = gap;
      start = end;
    }
  }

  private sendDue(start: number, elapsed: number, stepMs: number): void {
    const phaseIndex = this.phaseAt(elapsed);
    const phase = this.options.phases[phaseIndex]!;
    const slice = Math.floor(elapsed / this.bucketMs);
    for (const [index, stream] of this.options.streams.entries()) {
      const rate = phase.rates[stream.name] ?? 0;
      this.credit[index]! += (rate * stepMs) / 1000;
      while (this.credit[index]! >= 1) {
        this.credit[index]! -= 1;
        // Due times are spread over the tick, so latency counts from when the user would have asked.
        const due = start + elapsed - (this.credit[index]! * 1000) / Math.max(rate, 1);
        this.send(index, stream, phaseIndex, slice, due);
      }
    }
  }

  private send(index: number, stream: LoadStream, phaseIndex: number, slice: number, due: number): void {
    const path = pathFor(stream.kind, this.sequence[index]!++);
    const phaseCounts = this.phaseResults[phaseIndex]!.streams[stream.name]!;
    const sliceCounts = this.sliceCounts(slice, phaseIndex, stream.name);
    phaseCounts.sent++;
    sliceCounts.sent++;
    this.secondSent++;
    this.inFlight++;
    const url = this.pickTarget();
    const counts = this.targetCounts(url, stream.name);
    counts.sent++;
    this.pool(url)
      .request({
        method: 'GET',
        path,
        headers: { 'x-region': stream.region },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
      .then(async (response) => {
        const body = carriesCounts(stream.kind) ? await response.body.text() : await drain(response.body);
        const outcome = classifyAnswer(stream.kind, path, response.statusCode, response.headers, body);
        const servedBy = response.headers['x-floodgate-region'];
        if (typeof servedBy === 'string')
          phaseCounts.servedBy[servedBy] = (phaseCounts.servedBy[servedBy] ?? 0) + 1;
        if (response.headers['x-floodgate-failover-from'] !== undefined) {
          phaseCounts.failover++;
          sliceCounts.failover++;
        }
        if (outcome === 'ok') this.okLatencies[phaseIndex]![index]!.push(performance.now() - due);
        countOutcome(counts, outcome);
        this.record(phaseCounts, sliceCounts, outcome);
      })
      .catch((error: unknown) => {
        const outcome = isTimeout(error) ? 'timeout' : 'error';
        countOutcome(counts, outcome);
        this.record(phaseCounts, sliceCounts, outcome);
      });
  }

  private pickTarget(): string {
    const urls = this.options.targets?.() ?? [this.options.url];
    return urls[this.nextTarget++ % urls.length] ?? this.options.url;
  }

  private targetCounts(url: string, streamName: string): OutcomeCounts {
    const streams = this.byTarget[url] ?? {};
    this.byTarget[url] = streams;
    const counts = streams[streamName] ?? emptyCounts();
    streams[streamName] = counts;
    return counts;
  }

  private pool(url: string): Pool {
    let pool = this.pools.get(url);
    if (pool === undefined) {
      assertLoopback(url);
      pool = new Pool(url, { connections: 8192, pipelining: 1, keepAliveTimeout: 30_000 });
      this.pools.set(url, pool);
    }
    return pool;
  }

  private record(phaseCounts: OutcomeCounts, sliceCounts: OutcomeCounts, outcome: Outcome): void {
    countOutcome(phaseCounts, outcome);
    countOutcome(sliceCounts, outcome);
    if (outcome === 'ok' || outcome === 'stale') this.secondGood++;
    this.inFlight--;
    if (this.inFlight === 0) this.drained?.();
  }

  private sliceCounts(slice: number, phaseIndex: number, streamName: string): OutcomeCounts {
    while (this.timeline.length <= slice) {
      this.timeline.push({
        startMs: this.timeline.length * this.bucketMs,
        phase: this.options.phases[phaseIndex]!.name,
        streams: Object.fromEntries(this.options.streams.map((stream) => [stream.name, emptyCounts()])),
      });
    }
    return this.timeline[slice]!.streams[streamName]!;
  }

  private phaseAt(elapsed: number): number {
    let end = 0;
    for (const [index, phase] of this.options.phases.entries()) {
      end += phase.durationMs;
      if (elapsed < end) return index;
    }
    return this.options.phases.length - 1;
  }

  private reportSecond(elapsed: number): void {
    const second = Math.floor(elapsed / 1000);
    if (second <= this.reportedSecond) return;
    this.reportedSecond = second;
    this.options.onSecond?.({
      second,
      phase: this.options.phases[this.phaseAt(Math.min(elapsed, this.totalMs - 1))]!.name,
      elapsedMs: Math.min(elapsed, this.totalMs),
      totalMs: this.totalMs,
      sent: this.secondSent,
      good: this.secondGood,
    });
    this.secondSent = 0;
    this.secondGood = 0;
  }
}

async function drain(body: { dump(): Promise<void> }): Promise<string> {
  await body.dump();
  return '';
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  const code = (error as { code?: string } | null)?.code;
  return name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_ABORTED';
}
