import { availableParallelism } from 'node:os';

// More workers than this is a typo, not a machine.
const MAX_WORKERS = 1024;

/** `--workers N|auto`: N processes, or one per CPU the process may use. Throws a message for the usage line. */
export function parseWorkerCount(value: string, cpus: () => number = availableParallelism): number {
  if (value === 'auto') return Math.max(1, cpus());
  if (!/^[1-9][0-9]*$/.test(value) || Number(value) > MAX_WORKERS) {
    throw new Error(`--workers must be a whole number from 1 to ${MAX_WORKERS}, or auto (got "${value}")`);
  }
  return Number(value);
}
