import { floodgateBuilt, type RunningFloodgate, startFloodgate } from './floodgate.js';
import type { FloodgateConfig } from './floodgate-config.js';
import { type NginxProtections, nginxAvailable, startNginx } from './peers/nginx.js';
import { startHttpProxy, startUndiciProxy } from './peers/node-peers.js';
import type { RegionUpstreams } from './peers/region-router.js';

/** Something load is aimed at: a backend directly, a peer proxy, or Floodgate. */
export interface Target {
  readonly name: string;
  readonly url: string;
  /** The process serving it, when it is a process of its own. */
  readonly pid?: number;
  /** Present when the target is Floodgate, for reading its admin port. */
  readonly floodgate?: RunningFloodgate;
  close(): Promise<void>;
}

/** A target that can be started fresh for each measurement, or is unavailable on this machine. */
export interface TargetPlan {
  name: string;
  start(upstreams: RegionUpstreams): Promise<Target>;
  /** Why it cannot run here (nginx not installed, Floodgate not built), if so. */
  unavailable?: string;
}

/** The backend itself, no proxy in between: the reference every proxy is compared with. */
export function directPlan(): TargetPlan {
  return {
    name: 'direct',
    start: async (upstreams) => {
      const origin = Object.values(upstreams)[0]?.[0];
      if (origin === undefined) throw new Error('no upstream to reach directly');
      return { name: 'direct', url: origin, close: async () => {} };
    },
  };
}

export function noProtectionPlan(): TargetPlan {
  return { name: 'no protection (undici proxy)', start: startUndiciProxy };
}

export function httpProxyPlan(): TargetPlan {
  return { name: 'node-http-proxy', start: startHttpProxy };
}

export function nginxPlan(name: string, protections?: NginxProtections): TargetPlan {
  return {
    name,
    start: (upstreams) => startNginx(upstreams, protections),
    ...(nginxAvailable() ? {} : { unavailable: 'nginx is not installed' }),
  };
}

export function floodgatePlan(configFor: (upstreams: RegionUpstreams) => FloodgateConfig): TargetPlan {
  return {
    name: 'floodgate',
    start: async (upstreams) => {
      const floodgate = await startFloodgate(configFor(upstreams));
      return {
        name: 'floodgate',
        url: floodgate.url,
        floodgate,
        ...(floodgate.pid === undefined ? {} : { pid: floodgate.pid }),
        close: () => floodgate.close(),
      };
    },
    ...(floodgateBuilt() ? {} : { unavailable: 'floodgate is not built (npm run build)' }),
  };
}

/** Runs `measure` against a freshly started target; a target that cannot start is reported, not fatal. */
export async function measureTarget<T>(
  plan: TargetPlan,
  upstreams: RegionUpstreams,
  notes: string[],
  measure: (target: Target) => Promise<T>,
): Promise<T | undefined> {
  const target = await startPlan(plan, upstreams, notes);
  if (target === undefined) return undefined;
  try {
    return await measure(target);
  } finally {
    await target.close();
  }
}

/**
 * Starts every plan that can run here and keeps them all up while `measure` runs, so targets can
 * take turns within seconds of each other (bench/rounds.ts); an idle target costs its core nothing.
 */
export async function withTargets<T>(
  plans: readonly TargetPlan[],
  upstreams: RegionUpstreams,
  notes: string[],
  measure: (started: StartedTarget[]) => Promise<T>,
): Promise<T> {
  const started: StartedTarget[] = [];
  try {
    for (const plan of plans) {
      const target = await startPlan(plan, upstreams, notes);
      if (target !== undefined) started.push({ name: plan.name, target });
    }
    return await measure(started);
  } finally {
    for (const { target } of started) await target.close();
  }
}

/** A running target under its plan's name (the name the report uses). */
export interface StartedTarget {
  name: string;
  target: Target;
}

async function startPlan(
  plan: TargetPlan,
  upstreams: RegionUpstreams,
  notes: string[],
): Promise<Target | undefined> {
  if (plan.unavailable) {
    notes.push(`${plan.name}: skipped, ${plan.unavailable}`);
    return undefined;
  }
  try {
    return await plan.start(upstreams);
  } catch (error) {
    notes.push(`${plan.name}: could not start: ${firstLine(error)}`);
    return undefined;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 600 ? `${text.slice(0, 600)}...` : text;
}
