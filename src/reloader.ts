import { type ConfigInfo, notAppliedWhileStopping, type ReloadResult } from './admin/admin-view.js';
import type { LimitsPolicy } from './cluster/limits-policy.js';
import { ConfigError, type GatewayConfig } from './config/load.js';
import { configWarnings } from './config/warnings.js';
import { logEvent } from './observability/logger.js';
import { type Retired, Runtime, type RuntimeBuild, type RuntimeDeps } from './runtime.js';

/** Where requests find the runtime they start on (the gateway). */
export interface RuntimeHolder {
  runtime: Runtime;
}

export interface ReloaderOptions {
  file: string;
  load: () => Promise<GatewayConfig>;
  deps: RuntimeDeps;
  limits: LimitsPolicy | undefined;
  holder: RuntimeHolder;
  /** The config the listeners were bound with: changes to what they bound need a restart. */
  bound: GatewayConfig;
  /** Applies what lives outside the runtime (listener timeouts, the admin token, the log level). */
  applyLive: (config: GatewayConfig) => void;
}

/**
 * A reload, all or nothing: read and validate the file, build the new runtime beside the one
 * serving, and only when both succeeded commit it and swap it in. Anything that fails on the way,
 * a thrown exception included, is a rejected reload: logged as `reload-rejected`, kept as
 * `lastError`, and the runtime serving goes on untouched.
 */
export class Reloader {
  private readonly info: ConfigInfo = { version: 1, loadedAt: new Date().toISOString(), lastError: null };
  private closed = false;

  constructor(private readonly options: ReloaderOptions) {}

  configInfo(): ConfigInfo {
    return { ...this.info };
  }

  /** No reload is applied after this (the gateway is shutting down). */
  close(): void {
    this.closed = true;
  }

  async reload(): Promise<ReloadResult> {
    const { file, deps } = this.options;
    if (this.closed) return notAppliedWhileStopping(file, deps.logger);
    let next: GatewayConfig;
    try {
      next = await this.options.load();
    } catch (err) {
      return this.reject(err instanceof ConfigError ? err.problems : [`${file}: ${messageOf(err)}`], err);
    }
    if (this.closed) return notAppliedWhileStopping(file, deps.logger);
    // From here to the swap nothing awaits, so two reloads cannot interleave their builds.
    const current = this.options.holder.runtime;
    let build: RuntimeBuild;
    try {
      build = Runtime.build(next, current.version + 1, current, deps);
    } catch (err) {
      return this.reject([`${file}: cannot be applied: ${messageOf(err)}`], err);
    }
    const runtime = commitRuntime(build, this.options.limits, deps);
    this.options.holder.runtime = runtime;
    this.options.applyLive(next);
    this.warnAboutRestart(next);
    logConfigWarnings(file, next, deps);
    this.info.version = runtime.version;
    this.info.loadedAt = new Date().toISOString();
    this.info.lastError = null;
    deps.metrics.countReload('applied');
    deps.metrics.setConfigVersion(runtime.version);
    logEvent(deps.logger, 'reload-applied', { file, version: runtime.version });
    return { ok: true, version: runtime.version };
  }

  private reject(errors: string[], err?: unknown): ReloadResult {
    const { deps, file } = this.options;
    this.info.lastError = errors.join('\n');
    deps.metrics.countReload('rejected');
    // A ConfigError is the file's fault; anything else is ours, and its stack is what a fix needs.
    const stack = err instanceof Error && !(err instanceof ConfigError) ? { stack: err.stack } : {};
    logEvent(deps.logger, 'reload-rejected', { file, errors, ...stack });
    return { ok: false, errors };
  }

  private warnAboutRestart(next: GatewayConfig): void {
    const keys = restartOnlyChanges(this.options.bound, next);
    if (keys.length === 0) return;
    this.options.deps.logger.warn(
      { event: 'reload-needs-restart', keys },
      'these changes apply after a restart',
    );
  }
}

/**
 * Builds and commits the first runtime. A build that throws although validation passed is a
 * ConfigError like any invalid file (`--config` exits 2 with one line), its stack logged for the fix.
 */
export function initialRuntime(
  file: string,
  config: GatewayConfig,
  deps: RuntimeDeps,
  limits: LimitsPolicy | undefined,
): Runtime {
  let build: RuntimeBuild;
  try {
    build = Runtime.build(config, 1, undefined, deps);
  } catch (err) {
    throw notApplicable(file, err, deps);
  }
  return commitRuntime(build, limits, deps);
}

/**
 * What `check` adds to validation: the runtime is built (pools, breakers, buckets) and closed again,
 * so a file `check` accepts is one the gateway has already been seen to apply.
 */
export async function trialBuild(file: string, config: GatewayConfig, deps: RuntimeDeps): Promise<void> {
  let build: RuntimeBuild;
  try {
    build = Runtime.build(config, 1, undefined, deps);
  } catch (err) {
    throw notApplicable(file, err, deps);
  }
  await build.discard();
}

function notApplicable(file: string, err: unknown, deps: RuntimeDeps): ConfigError {
  if (err instanceof ConfigError) return err;
  deps.logger.error({ event: 'config-not-applicable', file, stack: (err as Error)?.stack }, 'cannot apply');
  return new ConfigError([`${file}: cannot be applied: ${messageOf(err)}`]);
}

/** Logs each of `check`'s warnings as a `config-warning` event, so a reload's log shows them too. */
export function logConfigWarnings(file: string, config: GatewayConfig, deps: RuntimeDeps): void {
  for (const warning of configWarnings(config)) logEvent(deps.logger, 'config-warning', { file, warning });
}

/**
 * Applies a built runtime's prepared changes and the limits policy's token supplies; after this
 * the caller swaps it in. What the runtime retired closes once its requests have finished.
 */
function commitRuntime(build: RuntimeBuild, limits: LimitsPolicy | undefined, deps: RuntimeDeps): Runtime {
  const retired = build.commit();
  limits?.apply(build.runtime);
  for (const region of retired.regions) deps.metrics.forgetRegion(region.name);
  void closeRetired(retired);
  return build.runtime;
}

async function closeRetired(retired: Retired): Promise<void> {
  // Pool.close waits for the requests still using the pool, so nothing in flight is dropped.
  await Promise.allSettled([
    ...retired.regions.map((r) => r.close()),
    ...retired.closeables.map((c) => c.close()),
  ]);
}

/** Keys whose new values only a restart applies, compared with what this process bound at start. */
function restartOnlyChanges(bound: GatewayConfig, next: GatewayConfig): string[] {
  const changed: string[] = [];
  if (bound.listen.host !== next.listen.host || bound.listen.port !== next.listen.port)
    changed.push('listen address');
  if (bound.admin.host !== next.admin.host || bound.admin.port !== next.admin.port)
    changed.push('admin address');
  if (bound.listen.maxHeaderBytes !== next.listen.maxHeaderBytes) changed.push('listen.maxHeaderBytes');
  // The certificate follows a reload; whether the port speaks TLS, and h2, is fixed when it binds.
  if ((bound.listen.tls === undefined) !== (next.listen.tls === undefined)) changed.push('listen.tls');
  else if (bound.listen.tls?.http2 !== next.listen.tls?.http2) changed.push('listen.tls.http2');
  // Of the cluster section only the lease size applies live: the Redis connection and the shares are set up once.
  const { leaseSize: _bound, ...boundCluster } = bound.cluster ?? {};
  const { leaseSize: _next, ...nextCluster } = next.cluster ?? {};
  if (JSON.stringify(boundCluster) !== JSON.stringify(nextCluster)) changed.push('cluster');
  return changed;
}

function messageOf(err: unknown): string {
  return firstLine(err instanceof Error ? err.message : String(err));
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
