import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { type GatewayConfig, parseConfigText } from '../../src/config/load.js';
import { type ReplayOutcome, runReplay } from '../../src/replay/replay-driver.js';

/** Log time zero for synthetic logs. */
export const BASE_MS = Date.parse('2026-12-01T10:00:00.000Z');

/** One request of a synthetic access log; `at` is its arrival in ms after BASE_MS. */
export interface RequestSpec {
  at: number;
  durationMs?: number;
  region?: string;
  priority?: string;
  method?: string;
  path?: string;
  outcome?: string;
  status?: number;
  client?: string;
  failoverFrom?: string;
  reason?: string;
  /** Of durationMs, the wait for a pacing turn. */
  waitMs?: number;
}

/** The access line the gateway would write for this request, when its answer ended. */
export function accessLine(spec: RequestSpec): string {
  const durationMs = spec.durationMs ?? 1;
  const outcome = spec.outcome ?? 'forwarded';
  return JSON.stringify({
    level: 'info',
    time: new Date(BASE_MS + spec.at + durationMs).toISOString(),
    region: spec.region ?? 'us-east',
    status: spec.status ?? (outcome === 'shed' ? 503 : 200),
    outcome,
    // Left out unless given, so the route's priority stands (a logged one may only lower it).
    ...(spec.priority === undefined ? {} : { priority: spec.priority }),
    durationMs,
    method: spec.method ?? 'GET',
    path: spec.path ?? '/',
    requestId: `r-${spec.at}`,
    ...(spec.client === undefined ? {} : { client: spec.client }),
    ...(spec.reason === undefined ? {} : { reason: spec.reason }),
    ...(spec.failoverFrom === undefined ? {} : { failoverFrom: spec.failoverFrom }),
    ...(spec.waitMs === undefined ? {} : { waitMs: spec.waitMs }),
  });
}

/** A log of these requests in the order the gateway writes them: by the time each answer ended. */
export function accessLog(specs: readonly RequestSpec[]): string {
  const ended = (s: RequestSpec) => s.at + (s.durationMs ?? 1);
  const sorted = [...specs].sort((a, b) => ended(a) - ended(b));
  return `${sorted.map(accessLine).join('\n')}\n`;
}

/** `count` requests like `spec`, arriving `everyMs` apart from `spec.at`. */
export function requests(count: number, spec: RequestSpec, everyMs = 0): RequestSpec[] {
  return Array.from({ length: count }, (_, i) => ({ ...spec, at: spec.at + i * everyMs }));
}

/** A validated config from an object, with a placeholder upstream for every region that names none. */
export function replayConfig(config: Record<string, unknown>): GatewayConfig {
  const regions = config.regions as Record<string, Record<string, unknown>>;
  const withUpstreams = Object.fromEntries(
    Object.entries(regions).map(([name, region]) => [name, { upstreams: ['http://127.0.0.1:9'], ...region }]),
  );
  return parseConfigText(
    stringify({ routing: { default: Object.keys(regions)[0] }, ...config, regions: withUpstreams }),
    'test.yaml',
  );
}

/** Replays a log given as text (read as standard input) through the configs. */
export function replayText(
  text: string,
  configs: Array<Record<string, unknown>>,
  options: { perSecond?: boolean } = {},
): Promise<ReplayOutcome> {
  return runReplay({
    configs: configs.map((config, i) => ({ label: `config-${i + 1}`, config: replayConfig(config) })),
    logs: ['-'],
    perSecond: options.perSecond ?? false,
    stdin: Readable.from([Buffer.from(text)], { objectMode: false }),
  });
}
