import { performance } from 'node:perf_hooks';

/** Milliseconds from a monotonic source. Injected everywhere time matters so tests can move it by hand. */
export type Clock = () => number;

// Wall-clock time can jump (NTP, manual changes); rates and refills must only ever move forward.
export const monotonicClock: Clock = () => performance.now();
