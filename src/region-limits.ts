import type { AdmissionLimits } from './admission/region-admission.js';
import type { GatewayConfig, RegionConfig } from './config/load.js';

/** A region's admission limits as the config states them, after defaults. */
export function admissionLimits(region: RegionConfig, gateway: GatewayConfig): AdmissionLimits {
  const { capacity } = region;
  return {
    rps: capacity.rps,
    burst: capacity.burst,
    maxConcurrent: capacity.maxConcurrent,
    reserves: gateway.shedding.reserve,
    retryAfterSeconds: gateway.shedding.retryAfterSeconds,
    // A baseline that starts from what the region is provisioned for, never from the first seconds
    // of traffic: see surge-detector.ts.
    surge: { ...gateway.surge, baselineRps: gateway.surge.baselineRps ?? capacity.rps },
  };
}
