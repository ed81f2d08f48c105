import { PRIORITIES } from '../admission/priority.js';
import { RegionAdmission } from '../admission/region-admission.js';
import { admissionLimits } from '../region-limits.js';
import { keyPath } from './key-path.js';
import type { GatewayConfig, RegionConfig } from './load.js';

// What `floodgate check` warns about: a config that is valid and does what it says, but very
// likely not what its author meant. Each warning is `key.path: what and why`; none fails a check.

type Route = GatewayConfig['routes'][number];

export function configWarnings(config: GatewayConfig): string[] {
  return [
    ...routeWarnings(config.routes),
    ...Object.values(config.regions).flatMap((region) => [
      ...upstreamWarnings(region),
      ...burstWarnings(region, config),
    ]),
  ];
}

/** Routes that can never match: an earlier one takes every request they would, or no method is left. */
function routeWarnings(routes: Route[]): string[] {
  const warnings: string[] = [];
  routes.forEach((route, j) => {
    const methods = route.match.methods;
    if (methods !== undefined && methods.length === 0) {
      warnings.push(
        `routes.${j}.match.methods: an empty list matches no request, so the route never applies`,
      );
      return;
    }
    const cover = routes.findIndex((earlier, i) => i < j && covers(earlier, route));
    if (cover !== -1) {
      const earlier = routes[cover]!;
      warnings.push(
        `routes.${j}: never matches: routes.${cover} (pathPrefix ${earlier.match.pathPrefix}` +
          `${earlier.match.methods ? `, ${earlier.match.methods.join(',')}` : ''}) comes first and takes every request it would`,
      );
    } else if (route.staleCache !== undefined && methods !== undefined && !methods.includes('GET')) {
      warnings.push(`routes.${j}.staleCache: only GET answers are kept, and this route does not match GET`);
    }
  });
  return warnings;
}

/** First match wins: a route is shadowed by an earlier one whose prefix and methods include its own. */
function covers(earlier: Route, later: Route): boolean {
  if (!later.match.pathPrefix.startsWith(earlier.match.pathPrefix)) return false;
  const broader = earlier.match.methods;
  if (broader === undefined) return true;
  const narrower = later.match.methods;
  return narrower?.every((m) => broader.includes(m)) === true;
}

/** The same origin twice gets twice the share of the traffic, and ejecting it takes out both. */
function upstreamWarnings(region: RegionConfig): string[] {
  const warnings: string[] = [];
  region.upstreams.forEach((url, j) => {
    const first = region.upstreams.indexOf(url);
    if (first < j)
      warnings.push(
        `${keyPath(['regions', region.name, 'upstreams', j])}: the same origin as upstreams.${first} (${url}); list each host once`,
      );
  });
  return warnings;
}

/**
 * The burst advice of docs/operations.md ("Sizing"): a fraction of a second of `rps`. Too small and
 * the priority floors collapse together (each is capped at burst - 1), so priorities are no longer
 * told apart; larger than a second of traffic, and every request of a spike queues at the backend.
 * The floors are the admission core's own, so the warning says what will be enforced.
 */
function burstWarnings(region: RegionConfig, config: GatewayConfig): string[] {
  const at = keyPath(['regions', region.name, 'capacity', 'burst']);
  const { rps, burst } = region.capacity;
  const admission = new RegionAdmission(admissionLimits(region, config), () => 0);
  const reserves = config.shedding.reserve;
  const reserveOf = (p: (typeof PRIORITIES)[number]) => (p === 'critical' ? 0 : reserves[p]);
  const collapsed: string[] = [];
  for (let i = 1; i < PRIORITIES.length; i++) {
    const higher = PRIORITIES[i - 1]!;
    const lower = PRIORITIES[i]!;
    if (reserveOf(lower) > reserveOf(higher) && admission.tokenFloor(lower) <= admission.tokenFloor(higher))
      collapsed.push(`${higher} and ${lower}`);
  }
  if (collapsed.length > 0) {
    return [
      `${at}: ${burst} is too small to tell priorities apart (the token floors of ${collapsed.join(', ')} ` +
        'are the same); docs/operations.md advises 0.1 to 0.25 s of rps, and at least 2',
    ];
  }
  if (burst > rps) {
    return [
      `${at}: ${burst} is more than a second of rps (${rps}); every request of a spike that size queues ` +
        'at the backend (docs/operations.md advises 0.1 to 0.25 s of rps)',
    ];
  }
  return [];
}
