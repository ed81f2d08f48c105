import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { OutputTail, PROXY_CORE, pinningAvailable, spawnOnCore } from '../processes.js';
import { writeSyntheticLog } from '../replay/synthetic-log.js';
import { formatNumber, type Scenario, type ScenarioContext, type ScenarioOutput } from '../scenario.js';

const MEASURE = fileURLToPath(new URL('../replay/replay-measure.js', import.meta.url));
const FULL_LINES = 1_000_000;
const QUICK_LINES = 100_000;
const OFFERED_RPS = 3000;
// Separate runs, since this machine's speed can move by a quarter from one minute to the next.
const RUNS = 5;

/** The synthetic log's three regions, each provisioned below what the surge brings it. */
const CONFIG = {
  regions: Object.fromEntries(
    ['us-east', 'us-west', 'eu-west'].map((name) => [
      name,
      { upstreams: ['http://127.0.0.1:9'], capacity: { rps: 900, burst: 180, maxConcurrent: 64 } },
    ]),
  ),
  routing: { default: 'us-east' },
  routes: [
    { match: { pathPrefix: '/api/video' }, priority: 'critical' },
    { match: { pathPrefix: '/api/notifications' }, priority: 'low' },
  ],
  clientLimit: { key: 'ip', rps: 50, burst: 100 },
  surge: { factor: 2, halfLifeMs: 600_000, minRps: 10, shedBelow: 'normal' },
};

interface Measured {
  lines: number;
  wallMs: number;
  cpuMs: number;
  maxRssBytes: number;
  peakBuffered: number;
  late: number;
  jsonParseLinesPerSecond: number;
  jsonParseLines: number;
}

/**
 * How fast `floodgate replay` reads a log, on one core, and how much memory it needs: a synthetic
 * log of a million access lines (three regions, a surge, client limits on) replayed in a child
 * pinned to one core, so its peak RSS is its own.
 */
export const replayScenario: Scenario = {
  name: 'replay',
  title: 'Replay throughput and memory',
  async run(context: ScenarioContext): Promise<ScenarioOutput> {
    const lines = context.quick ? QUICK_LINES : FULL_LINES;
    const dir = await mkdtemp(join(tmpdir(), 'floodgate-bench-replay-'));
    try {
      context.progress.startPhase(`writing a ${formatNumber(lines)}-line log`);
      const log = join(dir, 'access.log');
      const spanMs = await writeSyntheticLog({ path: log, lines, rps: OFFERED_RPS });
      const configPath = join(dir, 'gateway.yaml');
      await writeFile(configPath, stringify(CONFIG));
      const runs: Measured[] = [];
      for (let run = 1; run <= RUNS; run++) {
        context.progress.startPhase(`replaying (${run} of ${RUNS})`);
        runs.push(await measure(configPath, log));
      }
      const perCpu = (m: Measured) => (m.lines / m.cpuMs) * 1000;
      const perWall = (m: Measured) => (m.lines / m.wallMs) * 1000;
      // The run of median speed stands for all: its memory and its JSON.parse rate go with it.
      const middle = [...runs].sort((a, b) => perCpu(a) - perCpu(b))[runs.length >> 1]!;
      const row = (label: string, m: Measured) => [
        label,
        formatNumber(m.lines),
        formatNumber(m.wallMs / 1000, 1),
        formatNumber(perWall(m)),
        formatNumber(m.cpuMs / 1000, 1),
        formatNumber(perCpu(m)),
        formatNumber(m.jsonParseLinesPerSecond),
        formatNumber(m.maxRssBytes / 1e6),
        formatNumber(m.peakBuffered),
      ];
      return {
        data: { lines, spanMs, offeredRps: OFFERED_RPS, measured: middle, runs },
        tables: [
          {
            title: `Replaying a synthetic access log (${formatNumber(spanMs / 1000)} s of log time), ${RUNS} runs`,
            columns: [
              'run',
              'lines',
              'wall s',
              'lines/s',
              'CPU s (all threads)',
              'lines per CPU s',
              'JSON.parse lines per CPU s',
              'peak RSS MB',
              'requests held',
            ],
            rows: [...runs.map((m, i) => row(String(i + 1), m)), row('median', middle)],
          },
        ],
        charts: [],
        notes: [
          `${formatNumber(OFFERED_RPS)} requests/s over three regions, one of them surging, lognormal upstream durations (mean 40 ms); client limits by ip on. ${pinningAvailable() ? 'Each replay ran pinned to one core, in a process of its own.' : 'taskset is unavailable: the replays were not pinned.'}`,
          `"median": the run of median lines per CPU second. For scale, "JSON.parse lines per CPU s" is JSON.parse alone on the same core over the log's first ${formatNumber(middle.jsonParseLines)} lines, per CPU second, timed in the same process just after its replay: the median run replays at ${formatNumber((perCpu(middle) / middle.jsonParseLinesPerSecond) * 100)}% of that rate.`,
          `"requests held": the most requests waiting to be put back in arrival order at once; memory follows it, not the length of the log.${middle.late > 0 ? ` ${formatNumber(middle.late)} ${middle.late === 1 ? 'request' : 'requests'} came later than the reorder window.` : ''}`,
        ],
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

async function measure(configPath: string, log: string): Promise<Measured> {
  const child = spawnOnCore(PROXY_CORE, process.execPath, [MEASURE, configPath, log], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const tail = new OutputTail();
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => tail.append(chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`replay-measure exited with ${code}: ${tail}`);
  return JSON.parse(out) as Measured;
}
