import { parseArgs } from 'node:util';

export interface SoakOptions {
  durationMs: number;
  /** capacity.rps of each region; traffic is offered at 80% of it. */
  capacityRps: number;
  inProcess: boolean;
  outDir: string;
  seed: number;
  quiet: boolean;
}

export const USAGE = `usage: soak [--minutes N | --seconds N] [--rps N] [--in-process] [--out DIR] [--seed N] [--quiet]
  --minutes, --seconds  how long to run (default 10 minutes)
  --rps                 capacity.rps of each of the two regions (default 300); traffic runs at 80% of it
  --in-process          run the gateway inside this process instead of as a child of the built CLI
  --out                 where the JSON report goes (default bench/results)`;

/** A soak is bounded: it never runs longer than a day, whatever it is asked. */
const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

export function parseSoakOptions(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      rps: { type: 'string' },
      'in-process': { type: 'boolean' },
      out: { type: 'string' },
      seed: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (values.minutes !== undefined && values.seconds !== undefined) {
    throw new Error('give --minutes or --seconds, not both');
  }
  const durationMs =
    values.seconds !== undefined
      ? positive('--seconds', values.seconds) * 1000
      : positive('--minutes', values.minutes ?? '10') * 60_000;
  return {
    durationMs: Math.min(durationMs, MAX_DURATION_MS),
    capacityRps: positive('--rps', values.rps ?? '300'),
    inProcess: values['in-process'] ?? false,
    outDir: values.out ?? 'bench/results',
    seed: Math.floor(positive('--seed', values.seed ?? '1')),
    quiet: values.quiet ?? false,
  };
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value))
    throw new Error(`${flag} must be a positive number, not "${text}"`);
  return value;
}
