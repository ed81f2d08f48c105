import { cpus } from 'node:os';
import { floodgateBuilt } from './floodgate.js';
import { nginxAvailable } from './peers/nginx.js';
import { pinningAvailable } from './processes.js';
import { wrkAvailable } from './wrk.js';

/** What the numbers depend on, recorded with every result. */
export function describeEnvironment(): Record<string, unknown> {
  return {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    pinned: pinningAvailable(),
    floodgate: floodgateBuilt(),
    nginx: nginxAvailable(),
    wrk: wrkAvailable(),
  };
}
