/**
 * A bounded soak on loopback: mixed, checksummed traffic at 80% of capacity with periodic upstream
 * faults, surges and reloads, watching the gateway's memory, descriptors and in-flight counts.
 * `npm run soak -- --minutes N`; see bench/soak/soak-options.ts for the flags.
 */
import { soakMain } from './soak/soak-main.js';

process.exitCode = await soakMain(process.argv.slice(2));
