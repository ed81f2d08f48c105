#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from './config/load.js';
import { configJsonSchema } from './config/schema.js';
import { summarizeConfig } from './config/summary.js';

const EXIT_OK = 0;
const EXIT_USAGE = 64;
const EXIT_INVALID_CONFIG = 2;

const USAGE = `usage:
  floodgate --config FILE [--watch] [--workers N|auto]   start the gateway
  floodgate check FILE                                    validate FILE and print its effective limits
  floodgate schema                                        print the config's JSON Schema
  floodgate replay --config FILE [--json] [--compare OTHER] [--chart FILE.svg] LOG...
                                                          replay access logs through FILE's admission rules`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'check') return check(rest);
  if (command === 'replay') return (await import('./replay/replay-command.js')).replayCommand(rest);
  if (command === 'schema') {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return EXIT_OK;
  }
  return start(argv);
}

async function check(args: string[]): Promise<number> {
  const file = args[0];
  if (!file || args.length > 1) return usage('check takes exactly one FILE');
  try {
    process.stdout.write(`${summarizeConfig(file, await loadConfigFile(file))}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportConfigError(err);
  }
}

async function start(argv: string[]): Promise<number> {
  let values: { config?: string; watch?: boolean; workers?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        watch: { type: 'boolean' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write(`${await packageVersion()}\n`);
    return EXIT_OK;
  }
  if (!values.config) return usage('--config FILE is required');
  let workers: number | undefined;
  if (values.workers !== undefined) {
    const { parseWorkerCount } = await import('./cluster/worker-count.js');
    try {
      workers = parseWorkerCount(values.workers);
    } catch (err) {
      return usage((err as Error).message);
    }
  }
  const { runGateway } = await import('./run.js');
  try {
    return await runGateway({
      configPath: values.config,
      watch: values.watch ?? false,
      workers,
    });
  } catch (err) {
    return reportConfigError(err);
  }
}

function reportConfigError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.problems.join('\n')}\n`);
    return EXIT_INVALID_CONFIG;
  }
  throw err;
}

function usage(problem: string): number {
  process.stderr.write(`floodgate: ${problem}\n${USAGE}\n`);
  return EXIT_USAGE;
}

async function packageVersion(): Promise<string> {
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`floodgate: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
