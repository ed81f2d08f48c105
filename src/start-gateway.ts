import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type AdminServer, startAdminServer } from './admin/admin-server.js';
import type { AdminView, RegionView, ReloadResult } from './admin/admin-view.js';
import { type Clock, monotonicClock } from './admission/clock.js';
import type { LimitsPolicy } from './cluster/limits-policy.js';
import { type GatewayConfig, loadConfigFile } from './config/load.js';
import { Gateway } from './gateway.js';
import { httpUrl, listen } from './http/listen.js';
import { createPublicServer, type PublicListener } from './http/public-server.js';
import { connectListener, upgradeListener } from './http/upgrades.js';
import { drainPublicPort } from './lifecycle/drain.js';
import { flushOnFatal, forgetOnFatal } from './observability/fatal.js';
import { createLogger, flushLogger, logEvent } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { initialRuntime, logConfigWarnings, Reloader } from './reloader.js';
import type { Runtime, RuntimeDeps } from './runtime.js';
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

/**
 * Loads the config and starts the public and admin listeners. Throws ConfigError when the file is
 * invalid, before anything is bound.
 */
export async function startGateway(options: StartOptions): Promise<RunningGateway> {
  const load = options.load ?? (() => loadConfigFile(options.configPath));
  const config = await load();
  const logger = options.logger ?? createLogger(config.log.level);
  const deps: RuntimeDeps = { clock: options.clock ?? monotonicClock, metrics: new GatewayMetrics(), logger };
  const limits = options.limits?.(config, deps);
  const running = new GatewayProcess({ configPath: options.configPath, load, config, deps, limits });
  await running.start(options.serveAdmin !== false);
  return running;
}

interface ProcessOptions {
  configPath: string;
  load: () => Promise<GatewayConfig>;
  config: GatewayConfig;
  deps: RuntimeDeps;
  limits: LimitsPolicy | undefined;
}

/**
 * One gateway process, from start to shutdown: the runtime requests start on, the listeners, the
 * reloader that swaps runtimes, and the once-a-second tick. A cluster worker is one of these too,
 * so reloads and shutdowns follow the same sequence in one process and in a group.
 */
class GatewayProcess implements RunningGateway {
  readonly gateway: Gateway;
  readonly view: AdminView;
  readonly metrics: GatewayMetrics;
  readonly limits: LimitsPolicy | undefined;
  private readonly tunnels: WebSocketTunnels;
  private readonly reloader: Reloader;
  private readonly publicPort: PublicListener;
  private admin: AdminServer | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: ProcessOptions) {
    const { config, deps, limits } = options;
    this.metrics = deps.metrics;
    this.limits = limits;
    flushOnFatal(deps.logger);
    this.tunnels = new WebSocketTunnels(deps.logger);
    const initial = initialRuntime(options.configPath, config, deps, limits);
    this.gateway = new Gateway(initial, deps.clock, deps.logger, this.tunnels, deps.metrics);
    this.reloader = new Reloader({
      file: options.configPath,
      load: options.load,
      deps,
      limits,
      holder: this.gateway,
      bound: config,
      applyLive: (next) => this.applyLive(next),
    });
    this.view = {
      regions: () => regionViews(this.gateway.runtime),
      configInfo: () => this.reloader.configInfo(),
      reload: this.reload,
      ready: () => this.stopping === undefined,
    };
    this.publicPort = createPublicServer({
      listen: config.listen,
      tls: config.tlsMaterial.listen,
      onRequest: this.gateway.handleRequest,
      sink: { metrics: deps.metrics, logger: deps.logger },
    });
    const tunnels = this.tunnels;
    this.publicPort.server.on(
      'upgrade',
      upgradeListener({
        listener: this.publicPort,
        track: (socket) => tunnels.track(socket),
        tunnel: this.gateway.handleUpgrade,
      }),
    );
    this.publicPort.server.on(
      'connect',
      connectListener({
        track: (socket) => tunnels.track(socket),
        refuse: this.gateway.handleConnect,
        request: this.gateway.handleRequest,
      }),
    );
  }

  get publicUrl(): string {
    const { port } = this.publicPort.server.address() as AddressInfo;
    return httpUrl(this.options.config.listen.host, port, this.publicPort.secure);
  }

  get adminUrl(): string | undefined {
    return this.admin ? httpUrl(this.options.config.admin.host, this.admin.port) : undefined;
  }

  /** Binds the listeners; on failure (a port in use) closes whatever was opened, then throws. */
  async start(serveAdmin: boolean): Promise<void> {
    const { config, deps } = this.options;
    this.metrics.sampleRegionsWith(this.view.regions);
    this.metrics.sampleStaleCacheWith(() => {
      const cache = this.gateway.runtime.staleCache;
      return { bytes: cache.bytesHeld, entries: cache.size, capturing: cache.bytesCapturing };
    });
    this.metrics.sampleUpgradedSocketsWith(() => this.tunnels.openSockets);
    this.metrics.setConfigVersion(1);
    logConfigWarnings(this.options.configPath, config, deps);
    try {
      await this.limits?.start();
      await listen(this.publicPort.server, config.listen.host, config.listen.port);
      if (serveAdmin) this.admin = await startAdminServer(config.admin, this.view, this.metrics, deps.logger);
    } catch (err) {
      this.publicPort.server.close();
      await this.closeResources();
      throw err;
    }
    this.ticker = setInterval(() => this.tick(), SURGE_TICK_MS);
    this.ticker.unref();
    const publicPort = (this.publicPort.server.address() as AddressInfo).port;
    logEvent(deps.logger, 'started', {
      listen: `${config.listen.host}:${publicPort}`,
      ...(this.publicPort.secure ? { tls: true } : {}),
      ...(this.admin ? { admin: `${config.admin.host}:${this.admin.port}` } : {}),
    });
  }

  // Bound, so callers may pass them around (the signal handlers, the admin view, test harnesses).
  readonly reload = (): Promise<ReloadResult> => this.reloader.reload();

  /** Readiness turns 503, the drain delay, no new connections, requests in flight finish (up to the grace period). */
  readonly shutdown = (): Promise<void> => {
    this.stopping ??= this.drainAndClose();
    return this.stopping;
  };

  private async drainAndClose(): Promise<void> {
    const { logger } = this.options.deps;
    this.reloader.close();
    const { shutdownGraceMs: graceMs, drainDelayMs: delayMs } = this.gateway.runtime.config;
    logEvent(logger, 'shutdown-began', { graceMs, delayMs });
    await drainPublicPort(this.publicPort, {
      delayMs,
      graceMs,
      beforeCut: this.gateway.cutByShutdown,
      cutTunnels: () => this.tunnels.closeAll(),
    });
    await this.closeResources();
    logEvent(logger, 'shutdown-complete', {});
    await flushLogger(logger);
    forgetOnFatal(logger);
  }

  private async closeResources(): Promise<void> {
    clearInterval(this.ticker);
    await this.admin?.close();
    await this.limits?.close();
    await Promise.all([...this.gateway.runtime.regions.values()].map((r) => r.close('abandon')));
  }

  /** What a reload changes outside the runtime: listener deadlines and certificate, the admin token, the log level. */
  private applyLive(next: GatewayConfig): void {
    this.publicPort.applySettings(next.listen, next.tlsMaterial.listen);
    this.admin?.setToken(next.admin.token);
    this.options.deps.logger.level = next.log.level;
  }

  private tick(): void {
    for (const region of this.gateway.runtime.regions.values()) region.tick();
    // The log destination batches writes; a quiet gateway must not hold an event line back for long.
    this.options.deps.logger.flush();
  }
}

function regionViews(runtime: Runtime): Record<string, RegionView> {
  const out: Record<string, RegionView> = {};
  for (const [name, region] of runtime.regions) out[name] = region.view();
  return out;
}
