import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PRIORITIES, type Priority } from '../../src/admission/priority.js';
import { type AdmissionLimits, RegionAdmission } from '../../src/admission/region-admission.js';
import { leaseSize, localCapacity } from '../../src/cluster/lease-plan.js';
import type { BucketStore, LeaseReply, LeaseRequest } from '../../src/cluster/redis-bucket.js';
import { SharedLimits } from '../../src/cluster/shared-limits.js';
import type { LeaseResult, SharedLimitsMetrics } from '../../src/observability/metrics.js';

const RPS = 1000;
const BURST = 100;
const LIMITS: AdmissionLimits = {
  rps: RPS,
  burst: BURST,
  maxConcurrent: 100_000,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  surge: { factor: 2, halfLifeMs: 60_000, minRps: 10, windowMs: 5000, baselineRps: 100 },
};
// Default lease for rps 1000 and burst 100: 6 tokens (four of them are a quarter of the burst).
const LOCAL_CAPACITY = localCapacity(leaseSize(RPS, BURST, undefined));

/** The Lua lease script, in memory, on the test's clock; replies arrive `latencyMs` after the ask. */
class MemoryBucketStore implements BucketStore {
  down = false;
  latencyMs = 0;
  grantedTotal = 0;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly inFlight: { due: number; settle: () => void }[] = [];

  constructor(private readonly clock: () => number) {}

  async connect(): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }

  async ping(): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }

  lease(request: LeaseRequest): Promise<LeaseReply> {
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const now = Math.floor(this.clock());
    const bucket = this.buckets.get(request.key) ?? { tokens: request.burst, at: now };
    if (now > bucket.at) bucket.tokens += ((now - bucket.at) * request.rate) / 1000;
    bucket.at = now;
    bucket.tokens = Math.min(bucket.tokens, request.burst);
    const granted = Math.max(0, Math.floor(Math.min(request.want, bucket.tokens - request.floor)));
    bucket.tokens -= granted;
    this.buckets.set(request.key, bucket);
    this.grantedTotal += granted;
    const waitMs =
      granted < request.want
        ? Math.ceil(((request.floor + request.want - bucket.tokens) * 1000) / request.rate)
        : 0;
    const reply = { granted, remaining: bucket.tokens, waitMs };
    if (this.latencyMs === 0) return Promise.resolve(reply);
    return new Promise((resolve) =>
      this.inFlight.push({ due: now + this.latencyMs, settle: () => resolve(reply) }),
    );
  }

  /** Hands out the replies due by now; returns how many. */
  deliver(now: number): number {
    let delivered = 0;
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      if (this.inFlight[i]!.due <= now) {
        this.inFlight.splice(i, 1)[0]!.settle();
        delivered++;
      }
    }
    return delivered;
  }

  async close(): Promise<void> {}
}

class MetricsRecorder implements SharedLimitsMetrics {
  upHistory: boolean[] = [];
  results: Record<LeaseResult, number> = { granted: 0, empty: 0, error: 0 };
  setUp(up: boolean): void {
    this.upHistory.push(up);
  }
  lease(_region: string, result: LeaseResult): void {
    this.results[result]++;
  }
}

interface Gateway {
  admission: RegionAdmission;
  limits: SharedLimits;
  metrics: MetricsRecorder;
  events: string[];
  offered: Partial<Record<Priority, number>>;
  credit: Record<Priority, number>;
  admitted: Record<Priority, number>;
  shed: Record<Priority, number>;
}

function recordingLogger(events: string[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line) events.push((JSON.parse(line) as { event: string }).event);
      }
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

async function startGateway(
  store: MemoryBucketStore,
  clock: () => number,
  offered: Partial<Record<Priority, number>>,
  share: number,
): Promise<Gateway> {
  const admission = new RegionAdmission(LIMITS, clock);
  const events: string[] = [];
  const metrics = new MetricsRecorder();
  const limits = new SharedLimits({
    store,
    keyPrefix: 'test',
    fallbackShare: share,
    clock,
    logger: recordingLogger(events),
    metrics,
    tickMs: 0,
    probeMs: 500,
  });
  const region = { name: 'us-east', admission, config: { capacity: { rps: RPS, burst: BURST } } };
  limits.apply({ regions: new Map([['us-east', region]]), config: {} });
  await limits.start();
  const zero = () => ({ critical: 0, high: 0, normal: 0, low: 0 });
  return { admission, limits, metrics, events, offered, credit: zero(), admitted: zero(), shed: zero() };
}

interface Run {
  seconds: number;
  /** [from, to) in ms during which the store refuses every call. */
  outage?: [number, number];
  latencyMs?: number;
  /** Called after every millisecond with the total admitted so far. */
  onStep?: (now: number, admitted: number) => void;
}

/** Offers each gateway's traffic in 1 ms steps; each gateway's lease loop ticks every 10 ms. */
async function simulate(offers: Partial<Record<Priority, number>>[], run: Run) {
  let now = 0;
  const clock = () => now;
  const store = new MemoryBucketStore(clock);
  const gateways: Gateway[] = [];
  for (const offered of offers) gateways.push(await startGateway(store, clock, offered, 1 / offers.length));
  // Set after the start, whose first leases are awaited before the clock moves.
  store.latencyMs = run.latencyMs ?? 0;
  let admittedTotal = 0;
  for (now = 0; now < run.seconds * 1000; now++) {
    store.down = run.outage !== undefined && now >= run.outage[0] && now < run.outage[1];
    const delivered = store.deliver(now);
    const ticking = now % 10 === 0;
    if (ticking) for (const g of gateways) void g.limits.tick();
    // Lets the lease loops run to completion on this millisecond's replies before traffic arrives.
    if (ticking || delivered > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const g of gateways) {
      for (const priority of PRIORITIES) {
        g.credit[priority] += (g.offered[priority] ?? 0) / 1000;
        for (; g.credit[priority] >= 1; g.credit[priority]--) {
          if (g.admission.admit(priority, true) === null) {
            g.admitted[priority]++;
            admittedTotal++;
            g.admission.release();
          } else g.shed[priority]++;
        }
      }
    }
    run.onStep?.(now, admittedTotal);
  }
  for (const g of gateways) await g.limits.close();
  return { gateways, admittedTotal, store };
}

const total = (counts: Record<Priority, number>) => PRIORITIES.reduce((sum, p) => sum + counts[p], 0);

describe('SharedLimits', { timeout: 60_000 }, () => {
  it('holds two gateways at 3x overload within 5% of the configured rate over 10 s', async () => {
    // 3000 req/s split 2500/500 between two gateways: together they admit rps x 10 s, give or take 5%.
    const { admittedTotal, store } = await simulate([{ normal: 2500 }, { normal: 500 }], { seconds: 10 });
    expect(admittedTotal).toBeGreaterThanOrEqual(RPS * 10 * 0.95);
    expect(admittedTotal).toBeLessThanOrEqual(RPS * 10 * 1.05);
    // Every admitted request spent a token that was leased first.
    expect(admittedTotal).toBeLessThanOrEqual(store.grantedTotal);
  });

  it('never admits more than rps x t + burst plus one local capacity per gateway at any moment', async () => {
    // The single-bucket bound holds at every millisecond, up to the tokens held locally.
    let excess = Number.NEGATIVE_INFINITY;
    await simulate(
      [
        { normal: 1500, low: 1500 },
        { critical: 200, low: 800 },
      ],
      {
        seconds: 5,
        latencyMs: 2,
        onStep: (now, admitted) => {
          excess = Math.max(excess, admitted - ((RPS * now) / 1000 + BURST + 2 * LOCAL_CAPACITY));
        },
      },
    );
    expect(excess).toBeLessThanOrEqual(0);
  });

  it('serves critical traffic on one gateway before low traffic on another', async () => {
    // Critical at 60% of rps on gateway A, a 3x low flood on gateway B: A's critical is (nearly) never shed.
    const { gateways, admittedTotal } = await simulate([{ critical: 600 }, { low: 3000 }], {
      seconds: 10,
      latencyMs: 1,
    });
    const [a, b] = gateways as [Gateway, Gateway];
    expect(a.shed.critical).toBeLessThanOrEqual(a.admitted.critical * 0.01);
    expect(b.admitted.low).toBeGreaterThan(0);
    expect(admittedTotal).toBeLessThanOrEqual(RPS * 10 * 1.05);
  });

  it('keeps leasing ahead of demand, so traffic below the limit is never refused', async () => {
    // 80% of rps over two gateways with 2 ms leases: not one request is shed.
    const { gateways } = await simulate([{ normal: 400 }, { normal: 400 }], { seconds: 5, latencyMs: 2 });
    for (const g of gateways) expect(total(g.shed)).toBe(0);
  });

  it('falls back to the local share during an outage without refusing traffic below the limit', async () => {
    // Redis gone from 2 s to 5 s at 60% of rps: nothing is shed, events are logged, the gauge drops and returns.
    const { gateways } = await simulate([{ normal: 300 }, { normal: 300 }], {
      seconds: 7,
      outage: [2000, 5000],
    });
    for (const g of gateways) {
      expect(total(g.shed)).toBe(0);
      expect(g.events.filter((e) => e === 'shared-limits-unavailable')).toHaveLength(1);
      expect(g.events.filter((e) => e === 'shared-limits-restored')).toHaveLength(1);
      expect(g.metrics.upHistory).toEqual([true, false, true]);
      expect(g.metrics.results.error).toBeGreaterThan(0);
      expect(g.limits.up).toBe(true);
    }
  });

  it('stays within the stated bound across an outage at 3x overload', async () => {
    // Outage from 3 s to 6 s: at most rps x t + 3 x burst + local capacities, and no collapse either.
    const { admittedTotal } = await simulate([{ normal: 1500 }, { normal: 1500 }], {
      seconds: 10,
      outage: [3000, 6000],
    });
    expect(admittedTotal).toBeLessThanOrEqual(RPS * 10 + 3 * BURST + 2 * LOCAL_CAPACITY);
    expect(admittedTotal).toBeGreaterThanOrEqual(RPS * 10 * 0.95);
  });

  it('starts on the local share, full, when the store cannot be reached', async () => {
    // No Redis at start: the region enforces half the limits with a full half burst, and says so.
    const store = new MemoryBucketStore(() => 0);
    store.down = true;
    const g = await startGateway(store, () => 0, {}, 0.5);
    expect(g.limits.up).toBe(false);
    expect(g.admission.tokenSupply).toEqual({ kind: 'local', share: 0.5 });
    expect(g.admission.bucket.tokens(0)).toBe(BURST / 2);
    expect(g.events).toContain('shared-limits-unavailable');
    await g.limits.close();
  });

  it('notices an outage while idle through its heartbeat', async () => {
    // No traffic, so no leases: the store going away is still noticed within about a second.
    let now = 0;
    const store = new MemoryBucketStore(() => now);
    const g = await startGateway(store, () => now, {}, 0.5);
    expect(g.limits.up).toBe(true);
    store.down = true;
    for (now = 0; now <= 1500; now += 10) await g.limits.tick();
    expect(g.limits.up).toBe(false);
    expect(g.events).toEqual(['shared-limits-connected', 'shared-limits-unavailable']);
    await g.limits.close();
  });

  it('makes a region added by a reload spend only what it leased', async () => {
    // The new region's own full bucket is emptied and refilled by leases from its shared bucket.
    const now = 0;
    const store = new MemoryBucketStore(() => now);
    const g = await startGateway(store, () => now, {}, 0.5);
    const added = new RegionAdmission(LIMITS, () => now);
    const first = {
      name: 'us-east',
      admission: g.admission,
      config: { capacity: { rps: RPS, burst: BURST } },
    };
    const second = { name: 'eu-west', admission: added, config: { capacity: { rps: RPS, burst: BURST } } };
    g.limits.apply({
      regions: new Map([
        ['us-east', first],
        ['eu-west', second],
      ]),
      config: {},
    });
    // The apply starts the new region's leases itself; let them finish.
    await new Promise((resolve) => setImmediate(resolve));
    expect(added.tokenSupply).toEqual({ kind: 'leased', capacity: LOCAL_CAPACITY });
    expect(added.bucket.tokens(now)).toBe(LOCAL_CAPACITY);
    expect(store.grantedTotal).toBe(2 * LOCAL_CAPACITY);
    await g.limits.close();
  });

  it('follows a reload that changes the rate: the local capacity is resized, the tokens clamped', async () => {
    // rps 1000 -> 100 shrinks leases from 6 to 2 tokens and the local capacity from 24 to 8.
    const now = 0;
    const store = new MemoryBucketStore(() => now);
    const g = await startGateway(store, () => now, {}, 0.5);
    expect(g.admission.bucket.burst).toBe(24);
    const region = {
      name: 'us-east',
      admission: g.admission,
      config: { capacity: { rps: 100, burst: BURST } },
    };
    g.admission.reconfigure({ ...LIMITS, rps: 100 });
    g.limits.apply({ regions: new Map([['us-east', region]]), config: {} });
    expect(g.admission.bucket.burst).toBe(8);
    expect(g.admission.bucket.tokens(now)).toBe(8);
    await g.limits.close();
  });
});
