import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { assertLoopback } from '../loopback.js';
import { type PoolBody, sha256, smallBodies } from './body-pool.js';
import { CLIENT_KEY_HEADER, ROUTING_HEADER } from './soak-config.js';

/** Every request ends in exactly one of: answered, cut (the gateway's correct answer to a stalled body), lost. */
export interface TrafficCounts {
  sent: number;
  answered: number;
  /** Stalled upstream bodies the gateway cut off, as it must. */
  cut: number;
  /** Requests that got no answer: a reset, a client timeout, a body that broke off unasked. */
  lost: number;
  /** Bodies that arrived whole but wrong, or an incomplete body presented as complete. */
  corrupted: number;
  /** Statuses a soak should never see (a 400 or 404 means the gateway mangled a good request). */
  unexpected: number;
  stale: number;
  failover: number;
  byStatus: Record<string, number>;
  lostReasons: Record<string, number>;
}

type Kind = 'body' | 'likes' | 'upload' | 'stall';

/** The mix: mostly small reads, some large downloads and uploads, cacheable reads, and a few stalls. */
const KIND_WEIGHTS: [Kind, number][] = [
  ['body', 0.7],
  ['likes', 0.14],
  ['upload', 0.15],
  ['stall', 0.01],
];
const EXPECTED_STATUSES = new Set([200, 429, 500, 502, 503, 504]);
const TICK_MS = 5;
const CLIENT_TIMEOUT_MS = 20_000;
/** A share of requests from one client big enough to cross its own limit, so 429s are part of the mix. */
const GREEDY_SHARE = 0.12;

export interface TrafficOptions {
  url: string;
  pool: PoolBody[];
  /** Offered requests per second per region before any surge. */
  ratePerRegion: number;
  seed: number;
}

export class SoakTraffic {
  readonly counts: TrafficCounts = {
    sent: 0,
    answered: 0,
    cut: 0,
    lost: 0,
    corrupted: 0,
    unexpected: 0,
    stale: 0,
    failover: 0,
    byStatus: {},
    lostReasons: {},
  };
  private readonly client: Pool;
  private readonly random: () => number;
  private readonly uploads: number[];
  private readonly stallable: number[];
  private surgeFactor = 1;
  private credit = { 'us-east': 0, 'us-west': 0 };
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  /** Milliseconds from send to the end of the answer, since the last `takeLatency`. */
  private latencies: number[] = [];

  constructor(private readonly options: TrafficOptions) {
    assertLoopback(options.url);
    this.client = new Pool(options.url, { connections: 512, pipelining: 1, keepAliveTimeout: 10_000 });
    this.random = mulberry32(options.seed);
    this.uploads = smallBodies(options.pool, 65_536);
    this.stallable = options.pool.flatMap((body, i) => (body.bytes.length >= 1024 ? [i] : []));
  }

  start(): void {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.sendDue(now - last);
      last = now;
    }, TICK_MS);
  }

  /** Multiplies us-east's offered rate (1 ends the surge). */
  setSurge(factor: number): void {
    this.surgeFactor = factor;
  }

  /** p50 and p99 of the answers since the previous call, then starts a new interval. */
  takeLatency(): { p50Ms: number; p99Ms: number } {
    const sorted = this.latencies.sort((a, b) => a - b);
    this.latencies = [];
    const at = (q: number) =>
      Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return { p50Ms: at(0.5), p99Ms: at(0.99) };
  }

  /** Stops sending and waits (bounded) for every request to end; whatever has not ended is lost. */
  async stop(drainTimeoutMs = 30_000): Promise<TrafficCounts> {
    clearInterval(this.timer);
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, drainTimeoutMs)),
      ]);
    }
    if (this.inFlight > 0) this.loseUnanswered(this.inFlight);
    await this.client.destroy();
    return this.counts;
  }

  private sendDue(elapsedMs: number): void {
    const rate = this.options.ratePerRegion;
    this.credit['us-east'] += (rate * this.surgeFactor * elapsedMs) / 1000;
    this.credit['us-west'] += (rate * elapsedMs) / 1000;
    for (const region of ['us-east', 'us-west'] as const) {
      while (this.credit[region] >= 1) {
        this.credit[region] -= 1;
        this.send(region);
      }
    }
  }

  private send(region: string): void {
    const kind = this.pickKind();
    const index = this.pickBody(kind);
    const body = this.options.pool[index]!;
    const apiKey = this.random() < GREEDY_SHARE ? 'greedy' : `client-${Math.floor(this.random() * 20_000)}`;
    this.counts.sent++;
    this.inFlight++;
    const sentAt = performance.now();
    let settled = false;
    const settle = (outcome: 'answered' | 'cut' | 'lost', reason?: string) => {
      if (settled) return;
      settled = true;
      this.counts[outcome]++;
      if (outcome === 'answered') this.latencies.push(performance.now() - sentAt);
      if (outcome === 'lost') this.countLoss(reason ?? 'unknown');
      this.inFlight--;
      if (this.inFlight === 0) this.drained?.();
    };
    this.client
      .request({
        method: kind === 'upload' ? 'POST' : 'GET',
        path: `/soak/${kind}/${index}`,
        headers: { [ROUTING_HEADER]: region, [CLIENT_KEY_HEADER]: apiKey },
        body: kind === 'upload' ? body.bytes : undefined,
        headersTimeout: CLIENT_TIMEOUT_MS,
        bodyTimeout: CLIENT_TIMEOUT_MS,
      })
      .then(async (response) => {
        this.countStatus(response.statusCode, response.headers);
        let received: Buffer;
        try {
          received = Buffer.from(await response.body.arrayBuffer());
        } catch (error) {
          if (kind === 'stall' && response.statusCode === 200) settle('cut');
          else settle('lost', `body:${codeOf(error)}`);
          return;
        }
        this.verify(kind, body, response.statusCode, received);
        settle('answered');
      })
      .catch((error: unknown) => settle('lost', codeOf(error)));
  }

  private verify(kind: Kind, expected: PoolBody, status: number, received: Buffer): void {
    if (!EXPECTED_STATUSES.has(status)) this.counts.unexpected++;
    if (status !== 200) return;
    // A stalled body that arrived "complete" was presented as whole when it was not.
    if (kind === 'stall') this.counts.corrupted++;
    else if (kind === 'upload') {
      if (digestIn(received) !== expected.sha256) this.counts.corrupted++;
    } else if (sha256(received) !== expected.sha256) this.counts.corrupted++;
  }

  private countStatus(status: number, headers: Record<string, string | string[] | undefined>): void {
    this.counts.byStatus[status] = (this.counts.byStatus[status] ?? 0) + 1;
    if (headers['x-floodgate-cache'] === 'stale') this.counts.stale++;
    if (headers['x-floodgate-failover-from'] !== undefined) this.counts.failover++;
  }

  private countLoss(reason: string): void {
    this.counts.lostReasons[reason] = (this.counts.lostReasons[reason] ?? 0) + 1;
  }

  private loseUnanswered(count: number): void {
    this.counts.lost += count;
    this.counts.lostReasons.unanswered = (this.counts.lostReasons.unanswered ?? 0) + count;
    this.inFlight = 0;
  }

  private pickKind(): Kind {
    let roll = this.random();
    for (const [kind, weight] of KIND_WEIGHTS) {
      roll -= weight;
      if (roll < 0) return kind;
    }
    return 'body';
  }

  private pickBody(kind: Kind): number {
    const choices = kind === 'upload' ? this.uploads : kind === 'stall' ? this.stallable : undefined;
    if (choices !== undefined) return choices[Math.floor(this.random() * choices.length)]!;
    // Cacheable reads revisit a few keys, so stale copies exist when a region fails.
    const span = kind === 'likes' ? 8 : this.options.pool.length;
    return Math.floor(this.random() * span);
  }
}

/** The digest an upload's answer reports, or undefined when the answer is not the JSON the upstream sends. */
function digestIn(answer: Buffer): string | undefined {
  try {
    return (JSON.parse(answer.toString()) as { sha256?: string }).sha256;
  } catch {
    return undefined;
  }
}

function codeOf(error: unknown): string {
  const e = error as { code?: string; name?: string } | null;
  return e?.code ?? e?.name ?? 'error';
}

/** A small seeded generator, so two runs with one seed offer the same traffic. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
