import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { batchedDestination, createLogger, flushLogger } from '../../src/observability/logger.js';
import { runReplay } from '../../src/replay/replay-driver.js';
import { type RegionSummary, shedTotal, summarize } from '../../src/replay/replay-summary.js';
import { startGateway } from '../../src/start-gateway.js';
import { type FaultUpstream, startFaultUpstream } from '../support/fault-upstream.js';

// A real gateway under a flood, its access log captured to a file, then replayed through the same
// config and through a roomier and a tighter one.

const FLOOD_MS = 4000;
const TICK_MS = 5;
const OFFERED_RPS = { 'us-east': 300, 'us-west': 120 } as const;
const PATHS = ['/api/video/1', '/api/likes/2', '/api/notifications/3', '/api/likes/4'];

interface Capacity {
  rps: number;
  burst: number;
  maxConcurrent: number;
}

const CAPACITY: Record<keyof typeof OFFERED_RPS, Capacity> = {
  'us-east': { rps: 100, burst: 20, maxConcurrent: 4 },
  'us-west': { rps: 60, burst: 10, maxConcurrent: 20 },
};

function config(upstream: string, scale: number): Record<string, unknown> {
  const regions = Object.fromEntries(
    Object.entries(CAPACITY).map(([name, c]) => [
      name,
      {
        upstreams: [upstream],
        capacity: {
          rps: c.rps * scale,
          burst: Math.max(1, Math.round(c.burst * scale)),
          maxConcurrent: Math.max(1, Math.round(c.maxConcurrent * scale)),
        },
        timeoutMs: 5000,
      },
    ]),
  );
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    shutdownGraceMs: 2000,
    regions,
    routing: { default: 'us-east' },
    routes: [
      { match: { pathPrefix: '/api/video' }, priority: 'critical' },
      { match: { pathPrefix: '/api/notifications' }, priority: 'low' },
    ],
  };
}

/** Sends each region's requests at its offered rate whatever the answers (an open loop); resolves when all are answered. */
async function flood(url: string): Promise<number> {
  const pool = new Pool(url, { connections: 64 });
  const pending: Array<Promise<unknown>> = [];
  const started = performance.now();
  const sent: Record<string, number> = { 'us-east': 0, 'us-west': 0 };
  try {
    while (performance.now() - started < FLOOD_MS) {
      const elapsed = performance.now() - started;
      for (const [region, rps] of Object.entries(OFFERED_RPS)) {
        while (sent[region]! < (elapsed * rps) / 1000) {
          const path = PATHS[sent[region]! % PATHS.length]!;
          sent[region]!++;
          pending.push(
            pool
              .request({ path, method: 'GET', headers: { 'x-region': region } })
              .then((res) => res.body.dump()),
          );
        }
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(pending);
    return pending.length;
  } finally {
    await pool.close();
  }
}

interface LiveCounts {
  admitted: number;
  shed: number;
}

/** What the gateway decided, per home region, as its access lines say. */
function liveCounts(lines: Array<Record<string, unknown>>): Record<string, LiveCounts> {
  const counts: Record<string, LiveCounts> = {};
  for (const line of lines) {
    if (line.event !== undefined || line.status === undefined) continue;
    const home = String(line.failoverFrom ?? line.region);
    counts[home] ??= { admitted: 0, shed: 0 };
    if (line.outcome === 'shed') counts[home].shed++;
    else counts[home].admitted++;
  }
  return counts;
}

function within(replayed: number, live: number, fraction: number): boolean {
  return Math.abs(replayed - live) <= Math.max(fraction * live, 2);
}

describe('replay fidelity', () => {
  let dir: string;
  let upstream: FaultUpstream;
  let log: string;
  let lines: Array<Record<string, unknown>>;
  let offered = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-replay-fidelity-'));
    upstream = await startFaultUpstream({ kind: 'delay', ms: 40 });
    const configPath = join(dir, 'gateway.yaml');
    await writeFile(configPath, stringify(config(upstream.url, 1)));
    log = join(dir, 'access.log');
    const logger = createLogger('info', batchedDestination(log));
    const gateway = await startGateway({ configPath, logger });
    try {
      offered = await flood(gateway.publicUrl);
    } finally {
      await gateway.shutdown();
      await flushLogger(logger);
    }
    lines = (await readFile(log, 'utf8'))
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }, 60_000);

  afterAll(async () => {
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function replayAt(scale: number): Promise<Record<string, RegionSummary>> {
    const text = stringify(config(upstream.url, scale));
    const outcome = await runReplay({
      configs: [{ label: `x${scale}`, config: parseConfigText(text, `x${scale}.yaml`) }],
      logs: [log],
      perSecond: false,
    });
    return summarize(outcome, outcome.configs[0]!).regions;
  }

  // The log holds one access line per request, with the fields replay reads.
  it('records every request of the flood', () => {
    const access = lines.filter((line) => line.status !== undefined);
    expect(access).toHaveLength(offered);
    expect(access[0]).toMatchObject({ client: '127.0.0.1', method: 'GET' });
    expect(typeof access[0]!.requestId).toBe('string');
  });

  // The same config replayed admits and sheds, per region, within 5% of what the gateway did live.
  it('replays the same config within 5% of live', async () => {
    const live = liveCounts(lines);
    const replayed = await replayAt(1);
    for (const region of Object.keys(OFFERED_RPS)) {
      const liveRegion = live[region]!;
      const replayRegion = replayed[region]!;
      // The flood is well over capacity: both decisions happen in numbers.
      expect(liveRegion.shed).toBeGreaterThan(liveRegion.admitted / 2);
      expect(
        within(replayRegion.admitted, liveRegion.admitted, 0.05),
        `${region} admitted: replay ${replayRegion.admitted}, live ${liveRegion.admitted}`,
      ).toBe(true);
      expect(
        within(shedTotal(replayRegion), liveRegion.shed, 0.05),
        `${region} shed: replay ${shedTotal(replayRegion)}, live ${liveRegion.shed}`,
      ).toBe(true);
    }
  });

  // Twice the capacity admits more and sheds less; half admits less: by about what the limits allow.
  it('moves in the right direction for roomier and tighter configs', async () => {
    const [same, roomy, tight] = [await replayAt(1), await replayAt(2), await replayAt(0.5)];
    const spanSeconds = FLOOD_MS / 1000;
    for (const region of Object.keys(OFFERED_RPS) as Array<keyof typeof OFFERED_RPS>) {
      const base = same[region]!;
      expect(roomy[region]!.admitted).toBeGreaterThan(base.admitted * 1.3);
      expect(shedTotal(roomy[region]!)).toBeLessThan(shedTotal(base));
      expect(tight[region]!.admitted).toBeLessThan(base.admitted * 0.8);
      expect(shedTotal(tight[region]!)).toBeGreaterThan(shedTotal(base));
      // Never more than the bucket allows over the log: rps x seconds + burst (with a second of slack).
      const { rps, burst } = CAPACITY[region];
      for (const [scale, summary] of [
        [1, base],
        [2, roomy[region]!],
        [0.5, tight[region]!],
      ] as const) {
        expect(summary.admitted).toBeLessThanOrEqual(rps * scale * (spanSeconds + 1) + burst * scale);
      }
    }
  });
});
