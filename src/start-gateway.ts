import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { startAdminServer } from './admin/admin-server.js';
import type { AdminView, ConfigInfo, RegionView, ReloadResult } from './admin/admin-view.js';
import { type Clock, monotonicClock } from './admission/clock.js';
import type { LimitsPolicy } from './cluster/limits-policy.js';
import { ConfigError, type GatewayConfig, loadConfigFile } from './config/load.js';
import { Gateway } from './gateway.js';
import { httpUrl, listen } from './http/listen.js';
import { createPublicServer } from './http/public-server.js';
import { drainPublicPort } from './lifecycle/drain.js';
import { createLogger, flushLogger, logEvent } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { type Retired, Runtime } from './runtime.js';
import { WebSocketTunnels } from './upstream/websocket.js';

/** What a limits policy may be built from (see src/cluster/). */
export interface LimitsDeps {
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
}

export interface StartOptions {
  configPath: string;
  /** Defaults to JSON lines on stdout at the config's level. */
  logger?: Logger;
  clock?: Clock;
  /** Reads the config: the file by default; a cluster worker parses the text its primary validated. */
  load?: () => Promise<GatewayConfig>;
  /** false in a cluster worker: the primary answers the admin port for the whole group. */
  serveAdmin?: boolean;
  /**
   * Decides where each region's tokens come from when this process shares the limits with others
   * (a share of them, or leases from Redis). Applied to every runtime before it serves.
   */
  limits?: (config: GatewayConfig, deps: LimitsDeps) => LimitsPolicy;
}

export interface RunningGateway {
  readonly publicUrl: string;
  /** undefined when the admin port is not served (a cluster worker). */
  readonly adminUrl: string | undefined;
  readonly gateway: Gateway;
  readonly view: AdminView;
  readonly metrics: GatewayMetrics;
  readonly limits: LimitsPolicy | undefined;
  reload(): Promise<ReloadResult>;
  /** Drains: readiness turns 503, no new connections, requests in flight finish (up to the grace period). */
  shutdown(): Promise<void>;
}

const SURGE_TICK_MS = 1_000;

/** Loads the config and starts the public and admin listeners. Throws ConfigError when the file is invalid. */
export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const load = options.load ?? (() => loadConfigFile(options.configPath));
  const config = await load();
  const clock = options.clock ?? monotonicClock;
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new GatewayMetrics();
  const deps = { clock, metrics, logger };
  const limits = options.limits?.(config, deps);
  const initial = Runtime.build(config, 1, undefined, deps).runtime;
  limits?.apply(initial);
  await limits?.start();
  const tunnels = new WebSocketTunnels(logger);
  const gateway = new Gateway(initial, clock, logger, tunnels);
  const configInfo: ConfigInfo = { version: 1, loadedAt: new Date().toISOString(), lastError: null };
  let draining = false;

  const reload = async (): Promise<ReloadResult> => {
    let next: GatewayConfig;
    try {
      next = await load();
    } catch (err) {
      const errors = err instanceof ConfigError ? err.problems : [String(err)];
      configInfo.lastError = errors.join('\n');
      metrics.countReload('rejected');
      logEvent(logger, 'reload-rejected', { file: options.configPath, errors });
      return { ok: false, errors };
    }
    const current = gateway.runtime;
    const needRestart = restartOnlyChanges(config, next);
    if (needRestart.length > 0) {
      logger.warn(
        { event: 'reload-needs-restart', keys: needRestart },
        'these changes apply after a restart',
      );
    }
    applyLiveSettings(next);
    const { runtime, retired } = Runtime.build(next, current.version + 1, current, deps);
    limits?.apply(runtime);
    gateway.runtime = runtime;
    for (const region of retired.regions) metrics.forgetRegion(region.name);
    void closeRetired(retired);
    configInfo.version = runtime.version;
    configInfo.loadedAt = new Date().toISOString();
    configInfo.lastError = null;
    metrics.countReload('applied');
    metrics.setConfigVersion(runtime.version);
    logEvent(logger, 'reload-applied', { file: options.configPath, version: runtime.version });
    return { ok: true, version: runtime.version };
  };

  const view: AdminView = {
    regions: () => regionViews(gateway.runtime),
    configInfo: () => ({ ...configInfo }),
    reload,
    ready: () => !draining,
  };
  metrics.sampleRegionsWith(view.regions);
  metrics.setConfigVersion(configInfo.version);

  const publicPort = createPublicServer(config.listen, config.tlsMaterial.listen, gateway.handleRequest);
  const server = publicPort.server;
  server.on('upgrade', gateway.handleUpgrade);
  await listen(server, config.listen.host, config.listen.port);
  const admin =
    options.serveAdmin === false ? undefined : await startAdminServer(config.admin, view, metrics, logger);
  const applyLiveSettings = (next: GatewayConfig): void => {
    publicPort.applySettings(next.listen, next.tlsMaterial.listen);
    admin?.setToken(next.admin.token);
    logger.level = next.log.level;
  };
  const ticker = setInterval(() => {
    for (const region of gateway.runtime.regions.values()) region.tick();
    // The log destination batches writes; a quiet gateway must not hold an event line back for long.
    logger.flush();
  }, SURGE_TICK_MS);
  ticker.unref();

  const port = (server.address() as AddressInfo).port;
  logEvent(logger, 'started', {
    listen: `${config.listen.host}:${port}`,
    ...(publicPort.secure ? { tls: true } : {}),
    ...(admin ? { admin: `${config.admin.host}:${admin.port}` } : {}),
  });

  const shutdown = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    const { shutdownGraceMs: graceMs, drainDelayMs: delayMs } = gateway.runtime.config;
    logEvent(logger, 'shutdown-began', { graceMs, delayMs });
    await drainPublicPort(publicPort, { delayMs, graceMs, cutTunnels: () => tunnels.closeAll() });
    clearInterval(ticker);
    await admin?.close();
    await limits?.close();
    await Promise.all([...gateway.runtime.regions.values()].map((r) => r.close()));
    logEvent(logger, 'shutdown-complete', {});
    await flushLogger(logger);
  };

  return {
    publicUrl: httpUrl(config.listen.host, port, publicPort.secure),
    adminUrl: admin ? httpUrl(config.admin.host, admin.port) : undefined,
    gateway,
    view,
    metrics,
    limits,
    reload,
    shutdown,
  };
}

function regionViews(runtime: Runtime): Record<string, RegionView> {
  const out: Record<string, RegionView> = {};
  for (const [name, region] of runtime.regions) out[name] = region.view();
  return out;
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
