import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { freePort, sleep } from '../processes.js';
import { buildBodyPool } from './body-pool.js';
import { soakConfig } from './soak-config.js';
import {
  type RegionsView,
  type SoakGateway,
  startChildGateway,
  startInProcessGateway,
} from './soak-gateway.js';
import { parseSoakOptions, type SoakOptions, USAGE } from './soak-options.js';
import { type SoakRecord, soakSummary, writeSoakReport } from './soak-report.js';
import { cycleLengthMs, type SoakEvent, soakSchedule } from './soak-schedule.js';
import { SoakTraffic } from './soak-traffic.js';
import { type SoakUpstream, startSoakUpstream } from './soak-upstream.js';
import { judgeSoak, type SoakSample } from './soak-verdict.js';

/** Traffic is offered at this share of each region's capacity.rps. */
const LOAD_SHARE = 0.8;
const DRAIN_POLL_MS = 10_000;
/** Longer than the keep-alive timeouts on both sides of the gateway (5 s), so idle pooled connections are gone. */
const IDLE_MS = 7_000;

/** Runs a soak from command-line arguments; the exit status is 0 when it passed, 1 when not, 2 on bad usage. */
export async function soakMain(argv: string[]): Promise<number> {
  let options: SoakOptions;
  try {
    options = parseSoakOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { record, path } = await runSoak(options);
  process.stdout.write(`${soakSummary(record, path)}\n`);
  return record.verdict.ok ? 0 : 1;
}

export async function runSoak(options: SoakOptions): Promise<{ record: SoakRecord; path: string }> {
  const startedAt = new Date().toISOString();
  const pool = buildBodyPool();
  const upstreams = await Promise.all([0, 1, 2, 3].map(() => startSoakUpstream(pool)));
  const [east0, east1, west0, west1] = upstreams as [SoakUpstream, SoakUpstream, SoakUpstream, SoakUpstream];
  const dir = await mkdtemp(join(tmpdir(), 'floodgate-soak-'));
  const configPath = join(dir, 'gateway.yaml');
  const base = {
    port: await freePort(),
    adminPort: await freePort(),
    adminToken: randomBytes(16).toString('hex'),
    east: [east0.url, east1.url],
    west: [west0.url, west1.url],
    capacityRps: options.capacityRps,
  };
  let generation = 0;
  await writeFile(configPath, stringify(soakConfig({ ...base, generation })));
  const at = { configPath, port: base.port, adminPort: base.adminPort };
  const gateway = options.inProcess ? await startInProcessGateway(at) : await startChildGateway(at);

  const durationMs = options.durationMs;
  const warmUpMs = Math.min(30_000, Math.round(durationMs / 4));
  const windowMs = cycleLengthMs(durationMs);
  const sampleMs = Math.min(5_000, Math.max(1_000, Math.round(durationMs / 48)));
  const schedule = soakSchedule(durationMs);
  const reloads: SoakRecord['reloads'] = [];
  const samples: SoakSample[] = [];
  const traffic = new SoakTraffic({
    url: gateway.publicUrl,
    pool,
    ratePerRegion: options.capacityRps * LOAD_SHARE,
    seed: options.seed,
  });

  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const reload = async () => {
    generation++;
    await writeFile(configPath, stringify(soakConfig({ ...base, generation })));
    reloads.push({ atMs: elapsed(), status: await postReload(gateway.adminUrl, base.adminToken) });
  };
  const apply = (event: SoakEvent) => {
    if (event.kind === 'reload') void reload();
    else if (event.kind === 'fault') east0.fault = event.fault;
    else traffic.setSurge(event.factor);
  };
  const timers = schedule.map((event) => setTimeout(() => apply(event), event.atMs));
  const sampler = setInterval(() => {
    void takeSample(gateway, traffic, elapsed()).then((sample) => {
      samples.push(sample);
      if (!options.quiet) process.stdout.write(`${progressLine(sample, traffic)}\n`);
    });
  }, sampleMs);

  const fdsBefore = (await gateway.sample()).openFds;
  traffic.start();
  await sleep(durationMs);
  for (const timer of timers) clearTimeout(timer);
  clearInterval(sampler);
  for (const upstream of upstreams) upstream.fault = 'ok';
  traffic.setSurge(1);
  const counts = await traffic.stop();
  const inflightAfterDrain = await inflightOnceDrained(gateway);
  await sleep(IDLE_MS);
  const fdsAfterIdle = (await gateway.sample()).openFds;
  const gatewayExit = gateway.exited();

  await gateway.close();
  await Promise.all(upstreams.map((upstream) => upstream.close()));
  await rm(dir, { recursive: true, force: true });

  const verdict = judgeSoak({
    samples,
    warmUpMs,
    windowMs,
    traffic: counts,
    failedReloads: reloads.filter((r) => r.status !== 200).length,
    inflightAfterDrain,
    fdsBefore,
    fdsAfterIdle,
    gatewayExit,
  });
  const record: SoakRecord = {
    startedAt,
    durationMs,
    gatewayMode: gateway.mode,
    capacityRpsPerRegion: options.capacityRps,
    offeredRpsPerRegion: options.capacityRps * LOAD_SHARE,
    warmUpMs,
    windowMs,
    schedule,
    reloads,
    fds: { before: fdsBefore, afterIdle: fdsAfterIdle },
    traffic: counts,
    samples,
    verdict,
  };
  return { record, path: await writeSoakReport(options.outDir, record) };
}

async function postReload(adminUrl: string, token: string): Promise<number> {
  try {
    const response = await fetch(`${adminUrl}/admin/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function takeSample(gateway: SoakGateway, traffic: SoakTraffic, atMs: number): Promise<SoakSample> {
  const latency = traffic.takeLatency();
  const [usage, view] = await Promise.all([gateway.sample(), gateway.regions()]);
  const inflight = view === undefined ? undefined : inflightOf(view, false);
  return { atMs, ...usage, inflight, ...latency, loadAverage: Math.round(loadavg()[0]! * 100) / 100 };
}

/** Requests in flight summed over regions; with `andUpstreams`, each upstream's own count is added too. */
function inflightOf(view: RegionsView, andUpstreams: boolean): number {
  let total = 0;
  for (const region of Object.values(view.regions)) {
    total += region.inflight;
    if (andUpstreams) for (const upstream of region.upstreams) total += upstream.inflight;
  }
  return total;
}

/** Polls the admin view until every region and upstream shows nothing in flight (or the wait runs out). */
async function inflightOnceDrained(gateway: SoakGateway): Promise<number | undefined> {
  const deadline = Date.now() + DRAIN_POLL_MS;
  let last: number | undefined;
  while (Date.now() < deadline) {
    const view = await gateway.regions();
    last = view === undefined ? undefined : inflightOf(view, true);
    if (last === 0) return 0;
    await sleep(100);
  }
  return last;
}

function progressLine(sample: SoakSample, traffic: SoakTraffic): string {
  const { counts } = traffic;
  const mib = (bytes: number | undefined) => (bytes === undefined ? '?' : (bytes / 1024 / 1024).toFixed(1));
  return (
    `t=${(sample.atMs / 1000).toFixed(0)}s sent=${counts.sent} answered=${counts.answered} cut=${counts.cut} ` +
    `lost=${counts.lost} corrupted=${counts.corrupted} rss=${mib(sample.rssBytes)}MiB ` +
    `heap=${mib(sample.heapUsedBytes)}MiB fds=${sample.openFds ?? '?'} inflight=${sample.inflight ?? '?'} ` +
    `p99=${sample.p99Ms}ms load=${sample.loadAverage}`
  );
}
