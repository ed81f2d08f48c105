import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { startClusteredGateway } from './cluster/clustered-gateway.js';
import { startWorkerGroup } from './cluster/workers.js';
import { loadConfigFile } from './config/load.js';
import { onSignals } from './signals.js';
import { startGateway } from './start-gateway.js';

export interface RunOptions {
  configPath: string;
  watch: boolean;
  /** node:cluster workers sharing the public port; undefined runs one process. */
  workers: number | undefined;
}

interface Running {
  reload(): Promise<unknown>;
  shutdown(): Promise<void>;
}

const WATCH_DEBOUNCE_MS = 300;

/**
 * Runs the gateway until SIGTERM or SIGINT; SIGHUP (and, with --watch, a change to the file) reloads.
 * The handlers stay until the drain is over: without them a SIGHUP from logrotate, or a second
 * SIGTERM, would take Node's default action and end the process, cutting the requests in flight.
 * A reload asked for during the drain is refused, a second stop is ignored (the drain is bounded
 * by drainDelayMs and shutdownGraceMs; SIGKILL is there for the impatient).
 */
export async function runGateway(options: RunOptions): Promise<number> {
  // While starting there is nothing to reload yet, and nothing to drain.
  const ignoreHangup = () => {};
  process.on('SIGHUP', ignoreHangup);
  const running = await start(options).finally(() => process.off('SIGHUP', ignoreHangup));
  const reload = () => void running.reload();
  const watcher = options.watch ? watchFile(options.configPath, reload) : undefined;
  let removeHandlers = () => {};
  await new Promise<void>((resolve) => {
    removeHandlers = onSignals({ stop: resolve, reload });
  });
  watcher?.close();
  try {
    await running.shutdown();
  } finally {
    removeHandlers();
  }
  return 0;
}

/**
 * One process unless workers are asked for. A config with a `cluster` section needs the shared or
 * divided limits even in one process, which the clustered lifecycle provides.
 */
async function start(options: RunOptions): Promise<Running> {
  const { configPath } = options;
  if (options.workers !== undefined) return startWorkerGroup({ configPath, workers: options.workers });
  const config = await loadConfigFile(configPath);
  if (config.cluster !== undefined)
    return startClusteredGateway({ configPath, workers: 1, serveAdmin: true });
  return startGateway({ configPath });
}

function watchFile(path: string, onChange: () => void): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  // Editors save in bursts (truncate, write, rename): wait for the file to settle before reloading.
  // The folder is watched, not the file, because a save by rename replaces the watched inode.
  const name = basename(path);
  const watcher = watch(dirname(path), (_event, changed) => {
    if (changed !== null && changed !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, WATCH_DEBOUNCE_MS);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
