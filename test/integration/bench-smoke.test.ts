import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nginxAvailable } from '../../bench/peers/nginx.js';
import { redisServerAvailable } from '../support/redis-server.js';
import { toolAvailable } from '../support/tools.js';

// Builds the project the way `npm run build` does (unless dist/ is already newer than every source),
// then runs each benchmark scenario in its quick form against the real command line and checks
// that it wrote a result whose numbers make sense.

const ROOT = resolve(import.meta.dirname, '../..');
const BUILD = join(ROOT, 'dist');
const RESULTS = join(ROOT, 'test-output/bench-smoke/results');
const RUN = join(BUILD, 'bench/run.js');
// nginx is compared only where it is installed; Floodgate always is (the build above makes the CLI).
const NGINX = nginxAvailable();

interface Row {
  target: string;
  load: { requests: number; rps: number; statuses: Record<string, number> };
  perCpuSecond?: number;
}

interface Counts {
  sent: number;
  ok: number;
  stale: number;
  shed: number;
  error: number;
  timeout: number;
}

interface MidSurgeRun {
  joinStartedMs: number;
  joinReadyMs: number;
  surgeSeenAfterStartMs: number | null;
  lostAtKill: Counts;
  load: {
    phases: Array<{ name: string; streams: Record<string, Counts> }>;
    byTarget: Record<string, Record<string, Counts>>;
  };
}

interface OpenLoopRun {
  target: string;
  load: { phases: Array<{ name: string; streams: Record<string, Counts> }> };
}

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

async function runScenario<T>(name: string): Promise<T> {
  const { code, output } = await run(process.execPath, [RUN, name, '--quick', '--out', RESULTS], 45_000);
  expect(code, output).toBe(0);
  const file = (await readdir(RESULTS)).find((entry) => entry.endsWith(`-${name}.json`));
  expect(file, `no result file for ${name}`).toBeDefined();
  return JSON.parse(await readFile(join(RESULTS, file!), 'utf8')) as T;
}

/** True when some source under src/ or bench/ is newer than its compiled file (or has none). */
async function buildIsStale(): Promise<boolean> {
  for (const dir of ['src', 'bench']) {
    const entries = await readdir(join(ROOT, dir), { recursive: true });
    for (const entry of entries) {
      if (!entry.endsWith('.ts') || entry.endsWith('.d.ts') || entry.startsWith('results')) continue;
      const compiled = join(BUILD, dir, entry.replace(/\.ts$/, '.js'));
      if (!existsSync(compiled)) return true;
      const [source, output] = await Promise.all([stat(join(ROOT, dir, entry)), stat(compiled)]);
      if (source.mtimeMs > output.mtimeMs) return true;
    }
  }
  return false;
}

function regionSum(streams: Record<string, Counts>, region: string, key: keyof Counts): number {
  return Object.entries(streams)
    .filter(([stream]) => stream.startsWith(`${region}/`))
    .reduce((sum, [, counts]) => sum + counts[key], 0);
}

describe('bench smoke', () => {
  beforeAll(async () => {
    await rm(join(ROOT, 'test-output/bench-smoke'), { recursive: true, force: true });
    await mkdir(RESULTS, { recursive: true });
    if (await buildIsStale()) {
      // Type errors elsewhere still emit JavaScript; only a missing runner fails here.
      await run(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
        90_000,
      );
    }
    expect(existsSync(RUN)).toBe(true);
  }, 120_000);

  it('overhead measures direct and proxied throughput', async () => {
    // Verifies every started target answered /small with 200s and the direct backend is fastest-path sane.
    const result = await runScenario<{ data: { rows: Row[] }; tables: unknown[] }>('overhead');
    const rows = result.data.rows;
    const direct = rows.find((row) => row.target === 'direct');
    expect(direct?.load.rps).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.load.requests, row.target).toBeGreaterThan(0);
      expect(row.load.statuses['200'], row.target).toBe(row.load.requests);
    }
    // Floodgate runs as a process of its own, so its CPU per answer is measured.
    expect(rows.find((row) => row.target === 'floodgate')?.perCpuSecond).toBeGreaterThan(0);
    expect(rows.some((row) => row.target.startsWith('nginx'))).toBe(NGINX);
    expect(result.tables.length).toBeGreaterThan(0);
  }, 60_000);

  it('shed compares refusals with a bare 429 server', async () => {
    // Verifies the bare server answered only 429s and Floodgate's empty region answered 503s.
    const result = await runScenario<{ data: { rows: Row[] } }>('shed');
    const bare = result.data.rows.find((row) => row.target.startsWith('bare'));
    expect(bare?.load.statuses['429']).toBe(bare?.load.requests);
    expect(bare?.load.rps).toBeGreaterThan(0);
    const shed = result.data.rows.find((row) => row.target.startsWith('floodgate shedding'));
    expect(shed?.load.statuses['503'] ?? 0).toBeGreaterThan(0.9 * (shed?.load.requests ?? 1));
  }, 60_000);

  it('surge drives every region and overloads us-east', async () => {
    // Verifies each target served the normal phase and overloaded us-east at 12x, and the charts and summary were written.
    const result = await runScenario<{ data: { runs: OpenLoopRun[] }; charts: string[] }>('surge');
    const runs = result.data.runs;
    expect(runs.map((r) => r.target).filter((t) => t.startsWith('nginx')).length).toBe(NGINX ? 1 : 0);
    expect(runs.length).toBe(NGINX ? 3 : 2);
    for (const { target, load } of runs) {
      const [normal, , peak] = load.phases;
      expect(regionSum(normal!.streams, 'us-west', 'sent'), target).toBeGreaterThan(0);
      expect(regionSum(normal!.streams, 'us-east', 'ok'), target).toBeGreaterThan(0);
      const eastPeak = regionSum(peak!.streams, 'us-east', 'sent');
      expect(eastPeak, target).toBeGreaterThan(5 * regionSum(peak!.streams, 'us-west', 'sent'));
      const failed = ['shed', 'timeout', 'error'] as const;
      expect(
        failed.reduce((sum, key) => sum + regionSum(peak!.streams, 'us-east', key), 0),
        target,
      ).toBeGreaterThan(0);
    }
    expect(result.charts.length).toBe(runs.length);
    for (const chart of result.charts) expect(existsSync(join(RESULTS, chart)), chart).toBe(true);
    expect(await readFile(join(RESULTS, 'summary.md'), 'utf8')).toContain('Regional surge');
  }, 60_000);

  it('outage takes us-east down and brings it back', async () => {
    // Verifies the unprotected proxy saw errors while us-east was down and good answers after it came back.
    const result = await runScenario<{ data: { runs: OpenLoopRun[] } }>('outage');
    const plain = result.data.runs.find((r) => r.target.startsWith('no protection'));
    const [healthy, down, recovered] = plain!.load.phases;
    expect(regionSum(healthy!.streams, 'us-east', 'ok')).toBeGreaterThan(0);
    expect(regionSum(down!.streams, 'us-east', 'error')).toBeGreaterThan(0);
    expect(regionSum(recovered!.streams, 'us-east', 'ok')).toBeGreaterThan(0);
    expect(result.data.runs.some((r) => r.target === 'floodgate')).toBe(true);
  }, 60_000);

  it('restart starts a new gateway mid-surge, moves the load to it and kills the old one', async () => {
    // Verifies the new process served the rest of the surge, saw it, and the kill's losses were counted.
    const result = await runScenario<{ data: { run: MidSurgeRun } }>('restart');
    const { run } = result.data;
    expect(run.joinReadyMs).toBeGreaterThan(run.joinStartedMs);
    expect(run.surgeSeenAfterStartMs).not.toBeNull();
    const [, surge, after] = run.load.phases;
    expect(regionSum(surge!.streams, 'us-east', 'ok')).toBeGreaterThan(0);
    expect(regionSum(after!.streams, 'us-east', 'ok')).toBeGreaterThan(0);
    // Both processes answered: the old one until the switch, the new one after it.
    const sentTo = Object.values(run.load.byTarget).map((streams) =>
      Object.values(streams).reduce((sum, counts) => sum + counts.sent, 0),
    );
    expect(sentTo).toHaveLength(2);
    for (const sent of sentTo) expect(sent).toBeGreaterThan(0);
  }, 60_000);

  it.runIf(redisServerAvailable())(
    'scale-out adds a Redis-sharing instance mid-surge',
    async () => {
      // Verifies both instances answered after the join, and the newcomer reported the surge.
      const result = await runScenario<{ data: { run: MidSurgeRun } }>('scale-out');
      const { run } = result.data;
      expect(run.surgeSeenAfterStartMs).not.toBeNull();
      const targets = Object.values(run.load.byTarget);
      expect(targets).toHaveLength(2);
      for (const streams of targets) {
        expect(Object.values(streams).reduce((sum, counts) => sum + counts.ok, 0)).toBeGreaterThan(0);
      }
    },
    60_000,
  );

  it('curve measures goodput at each offered load', async () => {
    // Verifies each curve point carried load and that half the provisioned rate is served almost fully.
    const result = await runScenario<{
      data: { points: Array<{ target: string; multiple: number; offeredRps: number; success: number }> };
      charts: string[];
    }>('curve');
    const points = result.data.points;
    expect(points.length).toBe(4);
    for (const point of points) expect(point.offeredRps, point.target).toBeGreaterThan(0);
    for (const point of points.filter((p) => p.multiple === 0.5))
      expect(point.success, point.target).toBeGreaterThan(0.9);
    expect(result.charts).toHaveLength(2);
  }, 60_000);

  it('adaptive slows the backend under a static and an adaptive limit', async () => {
    // Verifies both runs carried load in every phase and the unloaded reference measured a latency.
    const result = await runScenario<{
      data: {
        unloadedP99Ms: { normal: number; slowed: number };
        rows: Array<{ run: string; phase: string; sent: number; offeredRps: number; p99Ms: number }>;
      };
    }>('adaptive');
    const { rows, unloadedP99Ms } = result.data;
    expect(unloadedP99Ms.normal).toBeGreaterThan(0);
    expect(unloadedP99Ms.slowed).toBeGreaterThan(0);
    for (const run of ['static', 'adaptive']) {
      const phases = rows.filter((row) => row.run === run);
      expect(
        phases.map((row) => row.phase),
        run,
      ).toEqual(['normal', 'slowed, settling', 'slowed']);
      for (const row of phases) expect(row.sent, `${run} ${row.phase}`).toBeGreaterThan(0);
      expect(phases[0]!.p99Ms, run).toBeGreaterThan(0);
    }
  }, 60_000);

  // Verifies each protocol row answered only 2xx over the protocol it names, nginx beside Floodgate where installed.
  it.runIf(toolAvailable('h2load', 'nghttp2-client', 'the tls bench smoke'))(
    'tls measures plain, HTTPS/1.1 and HTTP/2 through Floodgate',
    async () => {
      const result = await runScenario<{
        data: {
          rows: Array<{
            proxy: string;
            protocol: string;
            load: { rps: number; ok: number; notOk: number; failed: number; application: string };
          }>;
        };
      }>('tls');
      const rows = result.data.rows;
      expect(rows.filter((row) => row.proxy === 'floodgate').map((row) => row.protocol)).toEqual([
        'http/1.1',
        'https/1.1',
        'h2 (TLS)',
      ]);
      expect(rows.some((row) => row.proxy === 'nginx')).toBe(NGINX);
      for (const row of rows) {
        const what = `${row.proxy} ${row.protocol}`;
        expect(row.load.ok, what).toBeGreaterThan(0);
        expect(row.load.notOk + row.load.failed, what).toBe(0);
        expect(row.load.application, what).toBe(row.protocol === 'h2 (TLS)' ? 'h2' : 'http/1.1');
      }
    },
    60_000,
  );
});
