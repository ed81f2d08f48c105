import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startAdminServer } from '../admin/admin-server.js';
import type { AdminView, ReloadResult } from '../admin/admin-view.js';
import { httpUrl } from '../http/listen.js';
import { flushOnFatal } from '../observability/fatal.js';
import { createLogger, flushLogger, logEvent } from '../observability/logger.js';
import { WorkerGroupMetrics } from './cluster-metrics.js';
import { readConfig, WorkerGroup, type WorkerHandle } from './worker-group.js';
import { isWorkerMessage } from './worker-messages.js';

export interface WorkerGroupStartOptions {
  configPath: string;
  workers: number;
  logger?: Logger;
}

export interface RunningWorkerGroup {
  readonly publicUrl: string;
  readonly adminUrl: string;
  reload(): Promise<ReloadResult>;
  /** Readiness turns 503, every worker drains, then the admin port closes. */
  shutdown(): Promise<void>;
}

const LOG_FLUSH_MS = 1000;

/** The worker's entry point, next to this file in the build. */
const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));

/**
 * `floodgate --workers N`: this process becomes the node:cluster primary. It validates the config
 * (an invalid file throws ConfigError before anything starts), forks N workers that share the
 * public port, and serves the admin port for the whole group.
 */
export async function startWorkerGroup(options: WorkerGroupStartOptions): Promise<RunningWorkerGroup> {
  const loaded = await readConfig(options.configPath);
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.log.level);
  flushOnFatal(logger);
  cluster.setupPrimary({ exec: WORKER_MAIN, args: [] });
  const group: WorkerGroup = new WorkerGroup({
    size: options.workers,
    configPath: options.configPath,
    fork: () => forkWorker(options.configPath),
    logger,
    onReload: (result) => {
      metrics.countReload(result.ok ? 'applied' : 'rejected');
      if (result.ok) metrics.setConfigVersion(result.version);
    },
  });
  const metrics = new WorkerGroupMetrics(
    () => group.collectMetrics(),
    () => group.alive,
  );
  metrics.setConfigVersion(1);
  let publicUrl: string;
  try {
    publicUrl = await group.start(loaded);
  } catch (err) {
    await group.drain(0);
    throw err;
  }
  const view: AdminView = {
    regions: () => group.regions(),
    configInfo: () => group.configInfo(),
    reload: () => group.reload(),
    ready: () => group.ready(),
  };
  const admin = await startAdminServer(config.admin, view, metrics, logger);
  const adminUrl = httpUrl(config.admin.host, admin.port);
  logEvent(logger, 'started', {
    listen: new URL(publicUrl).host,
    admin: new URL(adminUrl).host,
    workers: options.workers,
  });
  // The log destination batches writes; the primary logs rarely and must not hold an event back.
  const flusher = setInterval(() => logger.flush(), LOG_FLUSH_MS);
  flusher.unref();
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logEvent(logger, 'shutdown-began', { graceMs: group.shutdownGraceMs, workers: group.alive });
      await group.drain(group.shutdownGraceMs);
      await admin.close();
      clearInterval(flusher);
      logEvent(logger, 'shutdown-complete', {});
      await flushLogger(logger);
    })();
    return stopping;
  };
  return { publicUrl, adminUrl, reload: view.reload, shutdown };
}

function forkWorker(configPath: string): WorkerHandle {
  const worker = cluster.fork({ FLOODGATE_CONFIG: configPath });
  // A message to a worker that is already gone fails through the callback; without one it would
  // surface as an 'error' event that nobody expects.
  worker.on('error', () => {});
  return {
    id: worker.id,
    send: (message) => {
      if (worker.isConnected()) worker.send(message, undefined, () => {});
    },
    onMessage: (listener) => {
      worker.on('message', (message: unknown) => {
        if (isWorkerMessage(message)) listener(message);
      });
    },
    onExit: (listener) => {
      worker.on('exit', (code, signal) => listener(code, signal));
    },
    kill: (signal) => {
      worker.process.kill(signal);
    },
  };
}
