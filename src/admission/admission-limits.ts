import type { Priority, Reserves } from './priority.js';
import type { SurgeOptions } from './surge-detector.js';

// The shapes RegionAdmission takes and reports (region-admission.ts has the essay).

export type ShedReason = 'rate' | 'concurrency' | 'surge';

export interface AdmissionLimits {
  rps: number;
  burst: number;
  maxConcurrent: number;
  reserves: Reserves;
  /** The smallest Retry-After ever sent, in seconds. */
  retryAfterSeconds: number;
  surge: SurgeOptions & { shedBelow?: Priority };
}

export interface AdmissionSnapshot {
  tokens: number;
  inflight: number;
  inflightLimit: number;
  admittedRps: number;
  shedRps: number;
  baselineRps: number;
  currentRps: number;
  surging: boolean;
}
