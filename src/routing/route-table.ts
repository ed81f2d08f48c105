import type { Priority } from '../admission/priority.js';
import type { GatewayConfig } from '../config/load.js';

export interface Route {
  pathPrefix: string;
  methods: ReadonlySet<string> | undefined;
  priority: Priority;
  /** Milliseconds a stale copy of a GET answer is kept; undefined when the route keeps none. */
  staleTtlMs: number | undefined;
}

const DEFAULT_ROUTE: Route = {
  pathPrefix: '/',
  methods: undefined,
  priority: 'normal',
  staleTtlMs: undefined,
};

/** Routes in config order; the first whose prefix and method match wins. */
export class RouteTable {
  private readonly routes: Route[];

  constructor(config: GatewayConfig) {
    this.routes = config.routes.map((r) => ({
      pathPrefix: r.match.pathPrefix,
      methods: r.match.methods ? new Set(r.match.methods) : undefined,
      priority: r.priority,
      staleTtlMs: r.staleCache?.ttlMs,
    }));
  }

  match(path: string, method: string): Route {
    for (const route of this.routes) {
      if (path.startsWith(route.pathPrefix) && (route.methods === undefined || route.methods.has(method))) {
        return route;
      }
    }
    return DEFAULT_ROUTE;
  }
}

/**
 * Turns the request target into the path sent upstream. Origin-form passes through as it is;
 * absolute-form (`http://host/p`) keeps only its path and query, so a client can never choose the
 * upstream origin. Anything else (`*`, authority-form, a target with a fragment) is refused with
 * undefined.
 */
export function upstreamPath(target: string): string | undefined {
  // RFC 9112 §3.2: no request-target form has a fragment (it is the user agent's, RFC 9110 §7.1);
  // llhttp lets `#` through, and a backend that cut the path there would route on less than the
  // routes here matched. Refused rather than stripped, as Envoy does by default.
  if (target.includes('#')) return undefined;
  if (target.charCodeAt(0) === 47 /* / */) return target;
  const scheme = ABSOLUTE_FORM.exec(target);
  if (!scheme) return undefined;
  const rest = target.slice(scheme[0].length);
  if (rest === '') return '/';
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)/i;

/**
 * Whether an OPTIONS with this target asks about the server rather than a resource: `*`, or an
 * absolute-form target with an empty path and no query, which the last proxy must send on as `*`
 * (RFC 9112 §3.2.4).
 */
export function isServerWideTarget(target: string): boolean {
  if (target === '*') return true;
  const scheme = ABSOLUTE_FORM.exec(target);
  return scheme !== null && scheme[0].length === target.length;
}

/** The authority of an absolute-form target (`http://host:port/p` gives `host:port`); else undefined. */
export function targetAuthority(target: string): string | undefined {
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  return ABSOLUTE_FORM.exec(target)?.[1];
}
