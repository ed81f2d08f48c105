import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdmissionLimits, RegionAdmission } from '../../src/admission/region-admission.js';
import type { SurgeChange } from '../../src/admission/surge-detector.js';
import { RedisBaselineStore } from '../../src/cluster/redis-baseline.js';
import { SharedBaseline } from '../../src/cluster/shared-baseline.js';
import { type RedisServer, redisServerAvailable, startRedisServer } from '../support/redis-server.js';

// Gateway processes sharing one surge baseline per region through a real redis-server. Time is the
// test's: the monotonic clock and the wall clock the group counts its seconds on are both moved by
// hand, so the Redis script sees exactly the seconds the test says.

const LIMITS: AdmissionLimits = {
  rps: 1000,
  burst: 100,
  maxConcurrent: 100_000,
  reserves: { high: 0.1, normal: 0.25, low: 0.5 },
  retryAfterSeconds: 1,
  // The prior is the provisioned 1000 req/s; the region's real normal is 200, which it must learn.
  surge: { factor: 2, halfLifeMs: 10_000, minRps: 10, windowMs: 3000, baselineRps: 1000 },
};
// Wall-clock seconds far from zero, as real ones are.
const EPOCH_MS = 1_800_000_000_000;
const STEP_MS = 10;
const ROUND_MS = 500;

interface Process {
  readonly admission: RegionAdmission;
  readonly baseline: SharedBaseline;
  readonly events: string[];
  /** Requests per second this process is offered now. */
  rps: number;
  owed: number;
  changes: Array<{ at: number; change: Exclude<SurgeChange, null> }>;
}

class Group {
  now = 0;
  readonly processes: Process[] = [];

  constructor(
    private readonly url: string,
    private readonly keyPrefix: string,
  ) {}

  /** A process that sees `share` of the region's traffic, started now (its first round included). */
  async join(share: number, rps: number): Promise<Process> {
    const clock = () => this.now;
    const admission = new RegionAdmission(LIMITS, clock);
    admission.setTrafficShare(share);
    const events: string[] = [];
    const baseline = new SharedBaseline({
      store: new RedisBaselineStore({ url: this.url, timeoutMs: 500 }),
      keyPrefix: this.keyPrefix,
      clock,
      wallClock: () => EPOCH_MS + this.now,
      logger: pino({ level: 'info' }, eventSink(events)),
      tickMs: 0,
    });
    baseline.apply({
      regions: new Map([['us-east', { name: 'us-east', admission, config: { capacity: LIMITS } }]]),
      config: {},
    });
    await baseline.start();
    const process: Process = { admission, baseline, events, rps, owed: 0, changes: [] };
    this.processes.push(process);
    return process;
  }

  /** Moves time on: offered traffic every step, a baseline round every 500 ms, a surge tick every second. */
  async run(ms: number): Promise<void> {
    for (const end = this.now + ms; this.now < end; ) {
      this.now += STEP_MS;
      for (const p of this.processes) {
        p.owed += (p.rps * STEP_MS) / 1000;
        for (; p.owed >= 1; p.owed -= 1) p.admission.recordShed();
      }
      if (this.now % ROUND_MS === 0) await Promise.all(this.processes.map((p) => p.baseline.tick()));
      if (this.now % 1000 === 0) {
        for (const p of this.processes) {
          const change = p.admission.tick();
          if (change !== null) p.changes.push({ at: this.now, change });
        }
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.baseline.close()));
  }
}

function eventSink(events: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        const event = line ? (JSON.parse(line) as { event?: string }).event : undefined;
        if (event !== undefined) events.push(event);
      }
      done();
    },
  });
}

let prefixes = 0;

describe.runIf(redisServerAvailable())('SharedBaseline with Redis', { timeout: 60_000 }, () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis.close();
  });

  const group = () => new Group(redis.url, `test${++prefixes}`);

  it('learns one baseline from the whole group, and an instance joining mid-surge sees it at once', async () => {
    // Two instances learn the region's 200 req/s together; a third joins during a 6x surge.
    const g = group();
    const [a, b] = [await g.join(0.5, 100), await g.join(0.5, 100)];
    await g.run(60_000);
    // Six half-lives from a prior of 1000 down towards the group's 200 (each instance sees only 100).
    expect(a!.admission.snapshot().baselineRps).toBeGreaterThan(90);
    expect(a!.admission.snapshot().baselineRps).toBeLessThan(120);
    expect(a!.changes).toEqual([]);
    a!.rps = 600;
    b!.rps = 600;
    await g.run(10_000);
    expect(a!.admission.surge.surging).toBe(true);
    // The third instance's prior (1000 req/s) alone would call 1200 no surge; the group's baseline does.
    const c = await g.join(1 / 3, 400);
    a!.rps = 400;
    b!.rps = 400;
    const joinedAt = g.now;
    await g.run(5000);
    expect(c.changes.map((t) => t.change)).toEqual(['began']);
    expect(c.changes[0]!.at - joinedAt).toBeLessThanOrEqual(2000);
    expect(c.events).toContain('shared-baseline-connected');
    await g.close();
  });

  it('falls back to the baseline each process learned itself while Redis is down, and shares again after', async () => {
    // Redis killed: readings stop, each detector decides alone; restarted: the group starts over from the prior.
    const g = group();
    const a = await g.join(1, 100);
    await g.run(30_000);
    const learned = a.admission.snapshot().baselineRps;
    expect(learned).toBeLessThan(250);
    await redis.kill();
    await g.run(5000);
    expect(a.baseline.up).toBe(false);
    expect(a.events).toContain('shared-baseline-unavailable');
    // The local baseline, learned all along (5 s longer by now), decides: 100 req/s is still no surge, 600 is.
    const local = a.admission.snapshot().baselineRps;
    expect(local).toBeLessThan(learned);
    expect(local).toBeGreaterThan(100);
    a.rps = 600;
    await g.run(5000);
    expect(a.changes.map((t) => t.change)).toEqual(['began']);
    await redis.restart();
    a.rps = 100;
    // The client reconnects on its own schedule, in real time: keep the rounds going until it has.
    for (const deadline = Date.now() + 10_000; !a.baseline.up && Date.now() < deadline; ) {
      await g.run(ROUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(a.baseline.up).toBe(true);
    expect(a.events).toContain('shared-baseline-restored');
    await g.close();
  });
});
