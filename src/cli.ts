#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, type GatewayConfig, loadConfigFile } from './config/load.js';
import { configJsonSchema } from './config/schema.js';
import { summarizeConfig } from './config/summary.js';
import { configWarnings } from './config/warnings.js';
import { installFatalHandler, writeFatal } from './observability/fatal.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
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
    const config = await loadConfigFile(file);
    await buildOnce(file, config);
    process.stdout.write(`${summarizeConfig(file, config)}\n`);
    // Warnings go with the problems, so `check FILE > /dev/null` still shows them.
    for (const warning of configWarnings(config)) process.stderr.write(`warning: ${file}: ${warning}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportConfigError(err);
  }
}

/** Builds the runtime as the gateway would and closes it again: what check accepts, the gateway has applied. */
async function buildOnce(file: string, config: GatewayConfig): Promise<void> {
  const [{ trialBuild }, { GatewayMetrics }, { default: pino }] = await Promise.all([
    import('./reloader.js'),
    import('./observability/metrics.js'),
    import('pino'),
  ]);
  const deps = { clock: () => 0, metrics: new GatewayMetrics(), logger: pino({ level: 'silent' }) };
  await trialBuild(file, config, deps);
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
    if (isSystemError(err)) {
      // The environment's fault (a port in use, no permission to bind), not a bug: one line will do.
      process.stderr.write(`floodgate: cannot start: ${err.message}\n`);
      return EXIT_FAILED;
    }
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

function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function usage(problem: string): number {
  process.stderr.write(`floodgate: ${problem}\n${USAGE}\n`);
  return EXIT_USAGE;
}

async function packageVersion(): Promise<string> {
  const { createRequire } = await import('node:module');
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

installFatalHandler();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    writeFatal('startup', err);
    process.exitCode = EXIT_FAILED;
  },
);
