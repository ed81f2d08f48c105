import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soakMain } from '../../bench/soak/soak-main.js';
import type { SoakRecord } from '../../bench/soak/soak-report.js';
import type { TrafficCounts } from '../../bench/soak/soak-traffic.js';
import { judgeSoak, type SoakSample } from '../../bench/soak/soak-verdict.js';

const MIB = 1024 * 1024;

function traffic(overrides: Partial<TrafficCounts> = {}): TrafficCounts {
  const base = {
    sent: 100,
    answered: 99,
    cut: 1,
    lost: 0,
    corrupted: 0,
    unexpected: 0,
    stale: 0,
    failover: 0,
  };
  return { ...base, byStatus: { 200: 99 }, lostReasons: {}, ...overrides };
}

/** Two minutes of samples every 2.5 s, RSS following `rssAt(second)`. */
function samples(rssAt: (second: number) => number): SoakSample[] {
  return Array.from({ length: 48 }, (_, i) => {
    const atMs = (i + 1) * 2500;
    const common = {
      heapUsedBytes: 30 * MIB,
      openFds: 80,
      inflight: 10,
      p50Ms: 2,
      p99Ms: 20,
      loadAverage: 1,
    };
    return { atMs, rssBytes: rssAt(atMs / 1000), ...common };
  });
}

const judge = (list: SoakSample[], counts = traffic(), fdsAfterIdle = 32) =>
  judgeSoak({
    samples: list,
    warmUpMs: 30_000,
    windowMs: 30_000,
    traffic: counts,
    failedReloads: 0,
    inflightAfterDrain: 0,
    fdsBefore: 30,
    fdsAfterIdle,
    gatewayExit: undefined,
  });

describe('soak, short form', () => {
  let dir: string;
  let exitCode: number;
  let record: SoakRecord;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'floodgate-soak-test-'));
    // In-process, so the run exercises the sources under test rather than whatever was last built.
    exitCode = await soakMain(['--seconds', '10', '--rps', '100', '--in-process', '--quiet', '--out', dir]);
    const [report] = (await readdir(dir)).filter((name) => name.endsWith('-soak.json'));
    record = JSON.parse(await readFile(join(dir, report!), 'utf8')) as SoakRecord;
  }, 90_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Ten seconds of mixed traffic with a fault, a surge and reloads passes the soak's own verdict.
  it('passes', () => {
    expect(record.verdict.failures).toEqual([]);
    expect(exitCode).toBe(0);
  });

  // Every request sent ended exactly once, and none of them without an answer.
  it('answers every request exactly once', () => {
    const { traffic } = record;
    expect(traffic.sent).toBeGreaterThan(500);
    expect(traffic.answered + traffic.cut + traffic.lost).toBe(traffic.sent);
    expect(traffic.lost).toBe(0);
    expect(traffic.byStatus['200']).toBeGreaterThan(0);
  });

  // Checksums held for every body, both ways, and stalled bodies were cut rather than ended.
  it('delivers no corrupted body', () => {
    expect(record.traffic.corrupted).toBe(0);
    expect(record.traffic.unexpected).toBe(0);
  });

  // Reloads under load all applied, and the process was sampled throughout.
  it('reloads and samples while traffic runs', () => {
    expect(record.reloads.length).toBeGreaterThanOrEqual(2);
    expect(record.reloads.every((r) => r.status === 200)).toBe(true);
    expect(record.samples.length).toBeGreaterThanOrEqual(5);
    expect(record.samples.every((s) => s.rssBytes > 0 && s.inflight !== undefined)).toBe(true);
  });
});

describe('soak verdict', () => {
  // A floor that keeps rising after warm-up is a leak and fails the run.
  it('fails when RSS keeps growing', () => {
    const verdict = judge(samples((second) => (100 + second / 2) * MIB));
    expect(verdict.ok).toBe(false);
    expect(verdict.failures.join('\n')).toMatch(/rssBytes kept growing/);
  });

  // Peaks from surges or a busy machine do not raise the floor, so they do not fail the run.
  it('tolerates peaks over a steady floor', () => {
    const verdict = judge(samples((second) => (second % 30 > 20 ? 180 : 100) * MIB));
    expect(verdict.growthJudged).toBe(true);
    expect(verdict.failures).toEqual([]);
  });

  // A request that never got an answer fails the run, whatever the memory did.
  it('fails when a request is lost', () => {
    const verdict = judge(
      samples(() => 100 * MIB),
      traffic({ answered: 98, lost: 1, lostReasons: { ECONNRESET: 1 } }),
    );
    expect(verdict.failures.join('\n')).toMatch(/1 requests got no answer/);
  });

  // Memory that grows and then falls back is not a leak: the floors must rise window after window.
  it('tolerates a floor that rises and falls back', () => {
    const verdict = judge(samples((second) => (second >= 60 && second < 90 ? 130 : 100) * MIB));
    expect(verdict.failures).toEqual([]);
  });

  // Connections that outlive their keep-alive after traffic stops are leaked descriptors.
  it('fails when descriptors are not given back', () => {
    const verdict = judge(
      samples(() => 100 * MIB),
      traffic(),
      300,
    );
    expect(verdict.failures.join('\n')).toMatch(/descriptors not given back: 30 before traffic, 300/);
  });
});
