import { PRIORITIES } from '../admission/priority.js';
import { RegionAdmission } from '../admission/region-admission.js';
import { admissionLimits } from '../region-limits.js';
import type { GatewayConfig, RegionConfig } from './load.js';

/** What `floodgate check` prints: the effective limits after defaults, so a reviewer can read a change's effect. */
export function summarizeConfig(file: string, config: GatewayConfig): string {
  const lines = [
    `${file}: valid`,
    `listen ${config.listen.host}:${config.listen.port}${listenProtocols(config)}, admin ${config.admin.host}:${config.admin.port}` +
      `${config.admin.token ? ' (token set)' : ''}, shedding ${config.shedding.mode}, default region ${config.routing.default}` +
      ` (header ${config.routing.header})`,
  ];
  lines.push(
    `shutdown: keeps serving ${config.drainDelayMs} ms, then drains for up to ${config.shutdownGraceMs} ms`,
  );
  for (const region of Object.values(config.regions)) lines.push(...summarizeRegion(region, config));
  if (config.clientLimit) {
    const c = config.clientLimit;
    lines.push(`client limit: key ${c.key}, ${c.rps} rps, burst ${c.burst}, at most ${c.maxKeys} keys`);
  }
  const s = config.surge;
  lines.push(
    `surge: factor ${s.factor} over max(baseline, ${s.minRps} rps), half-life ${s.halfLifeMs} ms, ` +
      (s.shedBelow ? `sheds below ${s.shedBelow} while surging` : 'report only'),
  );
  for (const route of config.routes) {
    lines.push(
      `route ${route.match.pathPrefix}${route.match.methods ? ` [${route.match.methods.join(',')}]` : ''}: ${route.priority}` +
        (route.staleCache ? `, stale copies kept ${route.staleCache.ttlMs} ms` : ''),
    );
  }
  return lines.join('\n');
}

function summarizeRegion(region: RegionConfig, config: GatewayConfig): string[] {
  const { capacity, breaker } = region;
  // The admission core computes the floors itself, so what is printed is what is enforced.
  const admission = new RegionAdmission(admissionLimits(region, config), () => 0);
  const floors = PRIORITIES.map((p) => {
    const tokens = round(admission.tokenFloor(p) + 1);
    return `    ${p.padEnd(8)} shed when tokens < ${tokens} or in-flight >= ${admission.slotLimit(p)}`;
  });
  return [
    `region ${region.name}: ${region.upstreams.length} upstream(s) ${region.upstreams.join(' ')}`,
    `  ${capacity.rps} rps, burst ${capacity.burst}, in-flight cap ${capacity.maxConcurrent}` +
      (capacity.adaptive ? ` (adaptive, floor ${capacity.minConcurrent})` : '') +
      `, timeout ${region.timeoutMs} ms`,
    capacity.paceMaxWaitMs > 0
      ? `  admitted bursts leave paced, waiting at most ${capacity.paceMaxWaitMs} ms`
      : '  admitted bursts leave at once (paceMaxWaitMs 0)',
    ...floors,
    `  breaker: opens at ${breaker.errorThresholdPercentage}% errors over ${breaker.windowMs} ms ` +
      `(after ${breaker.volumeThreshold} requests), retries after ${breaker.resetTimeoutMs} ms`,
    `  failover: ${region.failover.length > 0 ? region.failover.join(' -> ') : 'none'}`,
    ...(region.tls ? [upstreamTls(region.tls)] : []),
  ];
}

function listenProtocols(config: GatewayConfig): string {
  const tls = config.listen.tls;
  if (tls === undefined) return ' (http/1.1)';
  return ` (TLS ${tls.minVersion}+, ${tls.http2 ? 'h2 and http/1.1' : 'http/1.1'})`;
}

function upstreamTls(tls: NonNullable<RegionConfig['tls']>): string {
  const trust = tls.rejectUnauthorized
    ? `trusting ${tls.ca ?? 'the system CAs'}`
    : 'certificates NOT verified';
  return `  upstream TLS: ${trust}${tls.servername ? `, servername ${tls.servername}` : ''}`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
