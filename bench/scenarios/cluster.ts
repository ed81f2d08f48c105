import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { leaseSize, localCapacity } from '../../src/cluster/lease-plan.js';
import { FLOODGATE_CLI, floodgateBuilt } from '../floodgate.js';
import { runClosedLoop } from '../load.js';
import {
  freePort,
  OutputTail,
  onPath,
  PROXY_CORE,
  pinningAvailable,
  sleep,
  stopChild,
} from '../processes.js';
import { type BenchRedis, startRedis } from '../redis.js';
import {
  formatPercent,
  formatRatio,
  formatNumber as n,
  type Scenario,
  type ScenarioContext,
  type ScenarioOutput,
  type Table,
} from '../scenario.js';
import { startUpstreams } from '../upstreams.js';

const RPS = 500;
const BURST = 200;
const CONNECTIONS = 50;
const WARMUP_MS = 1000;
/** What two instances may hold in leased tokens on top of the shared bucket. */
const HELD = 2 * localCapacity(leaseSize(RPS, BURST, undefined));

interface Gateway {
  url: string;
  /** A counter or gauge from the admin port's /metrics, summed over its label sets. */
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
}

/** The built command line with `config` on free ports; `cores` is a taskset list such as "1" or "0-1". */
async function startGateway(config: object, cores: string, workers?: number): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-cluster-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const file = join(dir, 'gateway.yaml');
  await writeFile(
    file,
    stringify({ listen: { port }, admin: { port: adminPort }, log: { level: 'warn' }, ...config }),
  );
  const args = [
    FLOODGATE_CLI,
    '--config',
    file,
    ...(workers === undefined ? [] : ['--workers', String(workers)]),
  ];
  const [command, argv] = pinningAvailable()
    ? ['taskset', ['-c', cores, process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command, argv as string[], { stdio: ['ignore', 'ignore', 'pipe'] });
  const tail = new OutputTail();
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  const admin = `http://127.0.0.1:${adminPort}`;
  const close = async () => {
    await stopChild(child, 10_000);
    await rm(dir, { recursive: true, force: true });
  };
  for (
    const deadline = Date.now() + 20_000;
    (await fetchText(`${admin}/readyz`)) === undefined;
    await sleep(100)
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await close();
      throw new Error(`floodgate did not start: ${tail}`);
    }
  }
  const metric = async (name: string, labels = '') => {
    const text = (await fetchText(`${admin}/metrics`)) ?? '';
    const lines = text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
    return lines
      .filter((line) => line.includes(labels))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  };
  return { url: `http://127.0.0.1:${port}`, metric, close };
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    return response.ok ? text : undefined;
  } catch {
    return undefined;
  }
}

function regionConfig(upstreams: string[], rps: number, burst: number, cluster?: object): object {
  return {
    regions: { origin: { upstreams, capacity: { rps, burst, maxConcurrent: 10_000 }, timeoutMs: 5000 } },
    routing: { default: 'origin' },
    ...(cluster === undefined ? {} : { cluster }),
  };
}

interface OpenLoopResult {
  ok: number;
  shed: number;
  other: number;
  /** Requests shed in each second of the run, by when they were sent. */
  shedBySecond: number[];
  /** When each 200 arrived, in ms from the start. */
  okAt: number[];
}

/** GET /small to each target at its rate whatever the answers do; `at` runs actions along the way. */
async function openLoop(
  targets: { url: string; rps: number }[],
  durationMs: number,
  at: { ms: number; action: () => Promise<unknown> }[] = [],
): Promise<OpenLoopResult> {
  const result: OpenLoopResult = { ok: 0, shed: 0, other: 0, shedBySecond: [], okAt: [] };
  const pools = targets.map((t) => new Pool(t.url, { connections: 256, keepAliveTimeout: 30_000 }));
  const pending: Promise<unknown>[] = [];
  const sent = targets.map(() => 0);
  const actions = [...at];
  const start = performance.now();
  for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - start) {
    while (actions.length > 0 && actions[0]!.ms <= elapsed) pending.push(actions.shift()!.action());
    const second = Math.floor(elapsed / 1000);
    targets.forEach((target, i) => {
      for (const due = Math.floor((elapsed * target.rps) / 1000); sent[i]! < due; sent[i]!++) {
        const answered = pools[i]!.request({ method: 'GET', path: '/small' }).then(async (res) => {
          await res.body.dump();
          return res.statusCode;
        });
        pending.push(
          answered.then(
            (status) => {
              if (status === 200) {
                result.ok++;
                result.okAt.push(performance.now() - start);
              } else if (status !== 503) result.other++;
              else {
                result.shed++;
                result.shedBySecond[second] = (result.shedBySecond[second] ?? 0) + 1;
              }
            },
            () => result.other++,
          ),
        );
      }
    });
    await sleep(2);
  }
  for (const late of actions) pending.push(late.action());
  await Promise.all(pending);
  await Promise.all(pools.map((pool) => pool.close()));
  return result;
}

/**
 * 3x one region's capacity over two instances (2/3 and 1/3). Admitted per second counts the 200s
 * that arrived in the window after the warm-up: a gateway's backlog delays both ends of the window
 * alike, where counting by send time would stretch it.
 */
async function overload(a: Gateway, b: Gateway, seconds: number) {
  const targets = [
    { url: a.url, rps: 2 * RPS },
    { url: b.url, rps: RPS },
  ];
  const load = await openLoop(targets, WARMUP_MS + seconds * 1000);
  const admitted = load.okAt.filter((at) => at >= WARMUP_MS && at < WARMUP_MS + seconds * 1000).length;
  const { okAt: _okAt, ...counts } = load;
  return { load: counts, windowSeconds: seconds, admitted, rate: admitted / seconds };
}

async function closedLoop(gateway: Gateway, durationSec: number) {
  const run = () =>
    runClosedLoop({ url: gateway.url, path: '/small', connections: CONNECTIONS, durationSec });
  await runClosedLoop({ url: gateway.url, path: '/small', connections: CONNECTIONS, durationSec: 1 });
  const cpuBefore = await gateway.metric('process_cpu_seconds_total');
  const ownBefore = process.cpuUsage();
  const machineBefore = await machineCpu();
  const load = await run();
  const machine = await machineCpu();
  const own = process.cpuUsage(ownBefore);
  const cores = ((await gateway.metric('process_cpu_seconds_total')) - cpuBefore) / load.durationSec;
  const loadCores = (own.user + own.system) / 1e6 / load.durationSec;
  const machineBusy = 1 - (machine.idle - machineBefore.idle) / (machine.total - machineBefore.total);
  return { rps: load.rps, p99Ms: load.latencyMs.p99, cores, loadCores, machineBusy };
}

/** Jiffies spent idle and in all, over every core, from /proc/stat (zeros where there is none). */
async function machineCpu(): Promise<{ idle: number; total: number }> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => 'cpu 0 0 0 0');
  const fields = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

async function using<T>(started: Promise<Gateway>[], measure: (...g: Gateway[]) => Promise<T>): Promise<T> {
  const gateways = await Promise.all(started);
  try {
    return await measure(...gateways);
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
  }
}

/**
 * Closed-loop runs of several gateways in turn, `rounds` times over, keeping each one's median: a
 * busy neighbour on the machine then slows every gateway alike instead of whichever ran last.
 */
async function alternate(started: Promise<Gateway>[], seconds: number, rounds: number): Promise<Closed[]> {
  return using(started, async (...gateways) => {
    const runs: Closed[][] = gateways.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, g] of gateways.entries()) runs[i]!.push(await closedLoop(g, seconds));
    }
    return runs.map((r) => r.sort((x, y) => x.rps - y.rps)[Math.floor(r.length / 2)]!);
  });
}

async function measureAll(context: ScenarioContext, upstreams: string[], redis: BenchRedis) {
  const seconds = context.quick ? 2 : 10;
  const [rounds, roundSeconds] = context.quick ? [1, 2] : [3, 4];
  const proxyCore = String(PROXY_CORE);
  const roomy = regionConfig(upstreams, 1_000_000, 100_000);
  const limited = (cluster: object) => regionConfig(upstreams, RPS, BURST, cluster);
  const shared = { redis: redis.url, instances: 2 };
  const local = { instances: 2 };
  const pair = (config: object) => [startGateway(config, proxyCore), startGateway(config, proxyCore)];

  context.progress.startPhase('workers');
  const allCores = `0-${availableParallelism() - 1}`;
  const [one, w1, w2] = (await alternate(
    [startGateway(roomy, proxyCore), startGateway(roomy, allCores, 1), startGateway(roomy, allCores, 2)],
    roundSeconds,
    rounds,
  )) as [Closed, Closed, Closed];

  context.progress.startPhase('3x overload, shared and local-only');
  const sharedRun = await using(pair(limited(shared)), (a, b) => overload(a!, b!, seconds));
  const localRun = await using(pair(limited(local)), (a, b) => overload(a!, b!, seconds));

  context.progress.startPhase('cost of Redis in the path');
  const [forwardShared, forwardLocal, shedShared, shedLocal] = (await alternate(
    [
      startGateway(regionConfig(upstreams, 100_000, 100_000, shared), proxyCore),
      startGateway(regionConfig(upstreams, 100_000, 100_000, local), proxyCore),
      startGateway(limited(shared), proxyCore),
      startGateway(limited(local), proxyCore),
    ],
    roundSeconds,
    rounds,
  )) as [Closed, Closed, Closed, Closed];

  context.progress.startPhase('Redis outage');
  const outageMs = (seconds * 1000) / 3;
  const outage = (rps: number) => async (a?: Gateway, b?: Gateway) => {
    const started = performance.now();
    const { okAt: _okAt, ...result } = await openLoop(
      [a!, b!].map((g) => ({ url: g.url, rps })),
      seconds * 1000,
      [
        { ms: outageMs, action: () => redis.kill() },
        { ms: 2 * outageMs, action: () => redis.restart() },
      ],
    );
    return { ...result, bound: (RPS * (performance.now() - started)) / 1000 + 3 * BURST + HELD };
  };
  const calm = await using(pair(limited(shared)), outage(0.3 * RPS));
  const storm = await using(pair(limited(shared)), outage(1.5 * RPS));
  const closedRuns = { one, w1, w2, forwardShared, forwardLocal, shedShared, shedLocal };
  return { seconds, rounds, roundSeconds, outageMs, sharedRun, localRun, calm, storm, ...closedRuns };
}

type Closed = Awaited<ReturnType<typeof closedLoop>>;
type Measured = Awaited<ReturnType<typeof measureAll>>;

function tables(m: Measured): Table[] {
  const workerRow = (name: string, r: Closed) => [
    name,
    n(r.rps),
    n(r.p99Ms, 2),
    n(r.cores, 2),
    n(r.rps / r.cores),
    n(r.loadCores, 2),
    formatPercent(r.machineBusy),
    formatRatio(r.rps / m.one.rps),
  ];
  const overloadRow = (name: string, r: Measured['sharedRun']) => [
    name,
    n(r.rate),
    formatPercent(r.rate / RPS - 1),
    n(r.admitted),
    n(r.windowSeconds, 1),
    r.load.other,
  ];
  const microsPerRequest = (r: Closed) => (r.cores / r.rps) * 1e6;
  const costRow = (name: string, s: Closed, l: Closed) => [
    name,
    n(s.rps),
    n(l.rps),
    formatRatio(s.rps / l.rps),
    n(microsPerRequest(s)),
    n(microsPerRequest(l)),
  ];
  const outageRow = (name: string, r: Measured['calm'], bound: string) => [
    name,
    n(r.ok),
    r.shed,
    JSON.stringify(r.shedBySecond.map((v) => v ?? 0)),
    r.other,
    bound,
  ];
  return [
    {
      title: 'Forwarding throughput by worker count (limits not reached)',
      columns: [
        'gateway',
        'req/s',
        'p99 ms',
        'gateway cores',
        'req/s per core',
        'load gen. cores',
        'machine busy',
        'vs one',
      ],
      rows: [
        workerRow('one process (one core)', m.one),
        workerRow('--workers 1', m.w1),
        workerRow('--workers 2', m.w2),
      ],
    },
    {
      title: `Two instances at 3x one region's capacity (rps ${RPS}, burst ${BURST}), after ${WARMUP_MS / 1000} s`,
      columns: ['limits', 'admitted/s', 'vs configured', 'admitted', 'window s', 'errors'],
      rows: [overloadRow('shared through Redis', m.sharedRun), overloadRow('local share only', m.localRun)],
    },
    {
      title: 'Closed-loop throughput of one instance: Redis in the path vs local limits',
      columns: [
        'load',
        'Redis req/s',
        'local req/s',
        'Redis / local',
        'Redis CPU µs/req',
        'local CPU µs/req',
      ],
      rows: [
        costRow('forwarding, limit not reached', m.forwardShared, m.forwardLocal),
        costRow('overloaded, mostly shed', m.shedShared, m.shedLocal),
      ],
    },
    {
      title: `Redis killed at ${n(m.outageMs / 1000, 1)} s, restarted at ${n((2 * m.outageMs) / 1000, 1)} s (two instances)`,
      columns: ['offered', 'admitted', 'shed', 'shed by second', 'errors', 'bound'],
      rows: [outageRow('60% of rps', m.calm, '-'), outageRow('3x rps', m.storm, n(m.storm.bound))],
    },
  ];
}

export const clusterScenario: Scenario = {
  name: 'cluster',
  title: 'Scale-out: workers, and region limits shared through Redis',
  async run(context): Promise<ScenarioOutput> {
    if (!floodgateBuilt()) throw new Error('floodgate is not built (npm run build)');
    if (!onPath('redis-server'))
      throw new Error('redis-server is not installed (apt-get install redis-server)');
    const host = await startUpstreams([{ name: 'origin' }]);
    const redis = await startRedis();
    try {
      const measured = await measureAll(context, host.urls, redis);
      return {
        data: measured,
        tables: tables(measured),
        charts: [],
        notes: [
          `Closed-loop rows: ${CONNECTIONS} keep-alive connections, GET /small, the median of ${measured.rounds} runs of ${measured.roundSeconds} s (after 1 s of warm-up each), the gateways taking turns. Open-loop rows send at a fixed rate for ${measured.seconds} s whatever the answers.`,
          'Gateway cores: growth of process_cpu_seconds_total (primary and workers summed) per second. Load generator cores: this process (autocannon runs in it). Machine busy: the share of all cores not idle during the run, whatever ran on them (/proc/stat).',
          `Admitted/s counts the 200s that arrived during the ${measured.seconds} s after ${WARMUP_MS / 1000} s of warm-up. Outage bound: rps x s + 3 x burst + ${HELD} tokens held locally.`,
          `3x overload: ${2 * RPS} req/s to one instance and ${RPS} to the other; without Redis each instance enforces half the limits.`,
        ],
      };
    } finally {
      await redis.kill();
      await host.close();
    }
  },
};
