/**
 * `npm run bench -- [NAME ...] [--quick] [--out DIR]`: runs the named scenarios (all by default),
 * writes their results and prints the summary tables.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeEnvironment } from './environment.js';
import { LOAD_CORE, pinProcess } from './processes.js';
import { Progress } from './progress.js';
import { writeReport } from './report.js';
import type { Scenario } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { markdownTable } from './table.js';

interface RunArguments {
  names: string[];
  quick: boolean;
  out: string;
}

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function parseArguments(argv: string[], env: NodeJS.ProcessEnv): RunArguments {
  const parsed: RunArguments = {
    names: [],
    quick: env.BENCH_QUICK === '1',
    out: env.BENCH_RESULTS_DIR ?? DEFAULT_OUT,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') parsed.quick = true;
    else if (arg === '--out') parsed.out = argv[++i] ?? parsed.out;
    else if (arg.startsWith('--out=')) parsed.out = arg.slice('--out='.length);
    else if (arg === '--help' || arg === '-h') parsed.names = ['help'];
    else parsed.names.push(arg);
  }
  return parsed;
}

function usage(): string {
  const names = SCENARIOS.map((scenario) => `  ${scenario.name.padEnd(10)} ${scenario.title}`).join('\n');
  return `usage: npm run bench -- [NAME ...] [--quick] [--out DIR]\n\nscenarios:\n${names}\n`;
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2), process.env);
  if (args.names.includes('help')) {
    process.stdout.write(usage());
    return 0;
  }
  const unknown = args.names.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n\n${usage()}`);
    return 2;
  }
  const selected = args.names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => args.names.includes(s.name));
  pinProcess(process.pid, LOAD_CORE);
  const progress = new Progress();
  let failures = 0;
  for (const scenario of selected) {
    if (!(await runScenario(scenario, args, progress))) failures++;
  }
  return failures === 0 ? 0 : 1;
}

async function runScenario(scenario: Scenario, args: RunArguments, progress: Progress): Promise<boolean> {
  const startedAt = new Date();
  const loadBefore = loadavg()[0]!;
  progress.startScenario(scenario.name);
  try {
    const output = await scenario.run({ quick: args.quick, progress });
    const written = await writeReport(args.out, {
      scenario: scenario.name,
      title: scenario.title,
      quick: args.quick,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      environment: {
        ...describeEnvironment(),
        loadAverage: `${loadBefore.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}`,
      },
      ...output,
    });
    progress.note(`${scenario.name}: done in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1)} s`);
    process.stdout.write(`\n## ${scenario.title}\n\n`);
    for (const table of output.tables) process.stdout.write(`${markdownTable(table)}\n\n`);
    for (const note of output.notes) process.stdout.write(`- ${note}\n`);
    process.stdout.write(`\nresult: ${written.jsonPath}\n`);
    for (const chart of written.chartPaths) process.stdout.write(`chart: ${chart}\n`);
    return true;
  } catch (error) {
    progress.note(
      `${scenario.name}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return false;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
