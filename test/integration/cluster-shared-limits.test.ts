import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ClusteredGateway, startClusteredGateway } from '../../src/cluster/clustered-gateway.js';
import { leaseSize, localCapacity } from '../../src/cluster/lease-plan.js';
import type { SharedLimits } from '../../src/cluster/shared-limits.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';
import { type RedisServer, redisServerAvailable, startRedisServer } from '../support/redis-server.js';

const RPS = 200;
const BURST = 40;
// Leases of 5 keep 20 tokens (100 ms at the full rate) in each instance, so a busy test machine
// that stalls an event loop for a moment does not empty it.
const LEASE_SIZE = 5;
// What the two gateways may hold locally on top of the shared bucket (see lease-plan.ts).
const HELD_LOCALLY = 2 * localCapacity(leaseSize(RPS, BURST, LEASE_SIZE));
// Sends are spread over 5 ms ticks and answers lag behind them: a little time either side.
const TIMING_SLACK_SECONDS = 0.5;

interface Instance {
  running: ClusteredGateway;
  events: string[];
  dir: string;
}

interface Tally {
  ok: number;
  shed: number;
  other: number;
  /** When each 200 arrived (performance.now()). */
  okAt: number[];
}

async function startInstance(redisUrl: string, upstream: string): Promise<Instance> {
  const dir = await mkdtemp(join(tmpdir(), 'floodgate-shared-'));
  const configPath = join(dir, 'gateway.yaml');
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    regions: { 'us-east': { upstreams: [upstream], capacity: { rps: RPS, burst: BURST }, timeoutMs: 2000 } },
    routing: { default: 'us-east' },
    shutdownGraceMs: 1000,
    cluster: { redis: redisUrl, instances: 2, leaseSize: LEASE_SIZE },
    log: { level: 'info', access: false },
  };
  await writeFile(configPath, stringify(config));
  const events: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        const event = line ? (JSON.parse(line) as { event?: string }).event : undefined;
        if (event !== undefined) events.push(event);
      }
      done();
    },
  });
  const running = await startClusteredGateway({
    configPath,
    workers: 1,
    serveAdmin: false,
    logger: pino({ level: 'info' }, sink),
    sharedLimits: { probeMs: 200 },
  });
  return { running, events, dir };
}

/** Sends `rps` GETs a second for `durationMs` whatever the answers do, and counts the answers. */
async function offer(url: string, rps: number, durationMs: number): Promise<Tally> {
  const tally: Tally = { ok: 0, shed: 0, other: 0, okAt: [] };
  const pool = new Pool(url, { connections: 32 });
  const answers: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - start) {
    for (const due = Math.floor((elapsed * rps) / 1000); sent < due; sent++) {
      answers.push(
        pool.request({ method: 'GET', path: '/' }).then(
          async (res) => {
            await res.body.dump();
            if (res.statusCode === 200) {
              tally.ok++;
              tally.okAt.push(performance.now());
            } else if (res.statusCode === 503) tally.shed++;
            else tally.other++;
          },
          () => {
            tally.other++;
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(answers);
  await pool.close();
  return tally;
}

/**
 * The most by which the requests admitted so far ever exceeded `allowed(seconds since the start)`,
 * checked at every 200 as it arrived. An answer arrives after its admission, so a count that stays
 * within the bound at every arrival stayed within it at every admission.
 */
function worstExcess(tallies: Tally[], startedAt: number, allowed: (seconds: number) => number): number {
  const arrivals = tallies.flatMap((t) => t.okAt).sort((x, y) => x - y);
  let worst = Number.NEGATIVE_INFINITY;
  arrivals.forEach((at, i) => {
    worst = Math.max(worst, i + 1 - allowed((at - startedAt) / 1000));
  });
  return worst;
}

function sharedLimitsOf(instance: Instance): SharedLimits {
  return instance.running.limits as SharedLimits;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.runIf(redisServerAvailable())('region limits shared through a real Redis', () => {
  let redis: RedisServer;
  let upstream: FaultUpstream;
  let instances: Instance[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    upstream = await startFaultUpstream();
  });

  afterAll(async () => {
    await upstream?.close();
    await redis?.close();
  });

  afterEach(async () => {
    for (const instance of instances) {
      await instance.running.shutdown();
      await rm(instance.dir, { recursive: true, force: true });
    }
    instances = [];
    // Each test starts from a full shared bucket, like a fresh group.
    await redis.restart();
  });

  async function startPair(): Promise<[Instance, Instance]> {
    instances = [await startInstance(redis.url, upstream.url), await startInstance(redis.url, upstream.url)];
    return instances as [Instance, Instance];
  }

  it('two instances at 3x overload admit the configured rate together', async () => {
    // 600 req/s split unevenly over two instances for 4 s: at every moment the pair has admitted at
    // most rps x t + burst (plus what is held locally), and about rps x 4 s in all.
    const [a, b] = await startPair();
    const started = performance.now();
    const [ta, tb] = await Promise.all([
      offer(a.running.publicUrl, 450, 4000),
      offer(b.running.publicUrl, 150, 4000),
    ]);
    const admitted = ta.ok + tb.ok;
    expect(ta.other + tb.other).toBe(0);
    const bound = (s: number) => RPS * (s + TIMING_SLACK_SECONDS) + BURST + HELD_LOCALLY;
    expect(worstExcess([ta, tb], started, bound)).toBeLessThanOrEqual(0);
    expect(admitted).toBeGreaterThanOrEqual(RPS * 4 * 0.75);
    expect(a.events).toContain('shared-limits-connected');
  });

  it('refuses nothing below the limit while Redis is killed and restarted', async () => {
    // 60% of rps through a Redis crash and restart: every request is answered 200, both instances
    // log the fallback and the return, and the gauge reads 0 during the outage and 1 after it.
    const [a, b] = await startPair();
    const load = Promise.all([offer(a.running.publicUrl, 60, 6000), offer(b.running.publicUrl, 60, 6000)]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.kill();
    await waitFor(() => !sharedLimitsOf(a).up && !sharedLimitsOf(b).up, 5000);
    expect(await a.running.metrics.text()).toMatch(/^floodgate_shared_limits_up 0$/m);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.restart();
    await waitFor(() => sharedLimitsOf(a).up && sharedLimitsOf(b).up, 10_000);
    const [ta, tb] = await load;
    expect(ta.shed + tb.shed + ta.other + tb.other).toBe(0);
    expect(ta.ok + tb.ok).toBeGreaterThan(0);
    for (const instance of [a, b]) {
      expect(instance.events).toContain('shared-limits-unavailable');
      expect(instance.events).toContain('shared-limits-restored');
      expect(await instance.running.metrics.text()).toMatch(/^floodgate_shared_limits_up 1$/m);
    }
  });

  it('stays within the stated bound at 3x overload across a Redis outage', async () => {
    // Killed at 1.5 s, back at 3.5 s, 6 s of load: at every moment at most rps x t + 3 x burst + what
    // is held locally, and no collapse either.
    const [a, b] = await startPair();
    const started = performance.now();
    const load = Promise.all([offer(a.running.publicUrl, 300, 6000), offer(b.running.publicUrl, 300, 6000)]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await redis.restart();
    const [ta, tb] = await load;
    expect(ta.other + tb.other).toBe(0);
    const bound = (s: number) => RPS * (s + TIMING_SLACK_SECONDS) + 3 * BURST + HELD_LOCALLY;
    expect(worstExcess([ta, tb], started, bound)).toBeLessThanOrEqual(0);
    expect(ta.ok + tb.ok).toBeGreaterThanOrEqual(RPS * 6 * 0.75);
  });
});
