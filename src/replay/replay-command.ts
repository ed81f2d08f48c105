import { writeFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ConfigError, type GatewayConfig, loadConfigFile } from '../config/load.js';
import { LogReadError } from './log-input.js';
import { runReplay } from './replay-driver.js';
import { summarize } from './replay-summary.js';
import { replayChart } from './report-chart.js';
import { reportCompare } from './report-compare.js';
import { footnotes, speedNote } from './report-parts.js';
import { reportTable } from './report-table.js';

const USAGE =
  'usage: floodgate replay --config FILE [--json] [--compare OTHER.yaml] [--chart FILE.svg] LOG...\n' +
  '  LOG: an access log (JSON lines); - reads standard input, a name ending in .gz is gunzipped';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_INVALID = 2;
const EXIT_USAGE = 64;

export interface ReplayIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
}

interface ReplayArguments {
  config: string;
  compare: string | undefined;
  chart: string | undefined;
  json: boolean;
  logs: string[];
}

/** `floodgate replay`: 0 done, 2 when a config is invalid or a log cannot be read, 64 on bad usage. */
export async function replayCommand(argv: string[], io: ReplayIo = process): Promise<number> {
  const args = parseReplayArguments(argv);
  if (typeof args === 'string') {
    io.stderr.write(`floodgate replay: ${args}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const files = args.compare === undefined ? [args.config] : [args.config, args.compare];
  const configs: Array<{ label: string; config: GatewayConfig }> = [];
  for (const [i, file] of files.entries()) {
    try {
      const label = i === 1 && file === files[0] ? `${file} (again)` : file;
      configs.push({ label, config: await loadConfigFile(file) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`${err.problems.join('\n')}\n`);
      return EXIT_INVALID;
    }
  }
  let outcome: Awaited<ReturnType<typeof runReplay>>;
  const started = performance.now();
  try {
    outcome = await runReplay({
      configs,
      logs: args.logs,
      perSecond: args.chart !== undefined,
      stdin: io.stdin,
    });
  } catch (err) {
    if (!(err instanceof LogReadError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT_INVALID;
  }
  const wallMs = performance.now() - started;
  if (args.json) {
    const [first, second] = outcome.configs;
    const summary = summarize(outcome, first!);
    const json =
      second === undefined
        ? summary
        : { ...summary, compare: { config: second.label, ...summarize(outcome, second) } };
    io.stdout.write(`${JSON.stringify(json)}\n`);
    for (const note of footnotes(outcome).slice(1)) io.stderr.write(`${note}\n`);
  } else {
    io.stdout.write(
      outcome.configs.length > 1 ? reportCompare(outcome, args.logs) : reportTable(outcome, args.logs),
    );
  }
  io.stderr.write(`${speedNote(outcome, outcome.configs[0]!.requests, wallMs)}\n`);
  if (args.chart !== undefined) {
    try {
      await writeFile(args.chart, replayChart(outcome));
    } catch (err) {
      io.stderr.write(
        `floodgate replay: cannot write ${args.chart} (${(err as NodeJS.ErrnoException).code ?? err})\n`,
      );
      return EXIT_FAILED;
    }
  }
  return EXIT_OK;
}

function parseReplayArguments(argv: string[]): ReplayArguments | string {
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    return (err as Error).message;
  }
  const { values, positionals } = parsed;
  if (values.config === undefined) return '--config FILE is required';
  if (positionals.length === 0) return 'name at least one LOG (- reads standard input)';
  // Two readers of one stream would each get part of it.
  if (positionals.filter((log) => log === '-').length > 1) return 'standard input (-) can be read only once';
  return {
    config: values.config,
    compare: values.compare,
    chart: values.chart,
    json: values.json ?? false,
    logs: positionals,
  };
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      compare: { type: 'string' },
      chart: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
}
