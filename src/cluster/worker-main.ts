// One worker of `floodgate --workers N`, started by node:cluster. It waits for the primary's config
// text, serves the shared public port with its share of the limits, pushes its region views to the
// primary a few times a second, and answers the primary's reload, metrics and drain requests.

import cluster from 'node:cluster';
import { parseConfigText } from '../config/load.js';
import { installFatalHandler } from '../observability/fatal.js';
import { batchedDestination, createLogger, type Logger } from '../observability/logger.js';
import { onSignals } from '../signals.js';
import { type ClusteredGateway, startClusteredGateway } from './clustered-gateway.js';
import {
  isPrimaryMessage,
  type MetricJson,
  type PrimaryMessage,
  type WorkerMessage,
} from './worker-messages.js';

const STATE_PUSH_MS = 250;
const STDOUT_FD = 1;
// Every worker writes to the same stdout. Writes of at most PIPE_BUF (4096) bytes are atomic on a
// pipe, and batches hold whole lines: 2048 characters of JSON (latin1 at most, as Node hands header
// and target text) are at most 4096 bytes, so lines from different workers never mix.
const BATCH_CHARS = 2048;

class Worker {
  private running: ClusteredGateway | undefined;
  private text = '';
  private stopping: Promise<void> | undefined;
  private pushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly configPath: string) {}

  async handle(message: PrimaryMessage): Promise<void> {
    switch (message.type) {
      case 'start':
        return this.start(message.text, message.workers);
      case 'reload': {
        this.text = message.text;
        const result = this.running
          ? await this.running.reload()
          : { ok: false as const, errors: ['not started'] };
        return send({ type: 'reloaded', id: message.id, result });
      }
      case 'metrics': {
        const metrics = this.running ? await this.running.metrics.registry.getMetricsAsJSON() : [];
        return send({ type: 'metrics', id: message.id, metrics: metrics as unknown as MetricJson[] });
      }
      case 'drain':
        return this.stop();
    }
  }

  async stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.pushTimer);
      await this.running?.shutdown();
      process.exit(0);
    })();
    return this.stopping;
  }

  private async start(text: string, workers: number): Promise<void> {
    this.text = text;
    try {
      const config = parseConfigText(text, this.configPath);
      this.running = await startClusteredGateway({
        configPath: this.configPath,
        workers,
        serveAdmin: false,
        load: async () => parseConfigText(this.text, this.configPath),
        logger: workerLogger(config.log.level),
      });
    } catch (err) {
      send({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    }
    send({ type: 'ready', publicUrl: this.running.publicUrl });
    this.pushState();
    this.pushTimer = setInterval(() => this.pushState(), STATE_PUSH_MS);
    this.pushTimer.unref();
  }

  private pushState(): void {
    if (this.running) send({ type: 'state', regions: this.running.view.regions() });
  }
}

function workerLogger(level: string): Logger {
  return createLogger(level, batchedDestination(STDOUT_FD, BATCH_CHARS)).child({
    worker: cluster.worker?.id,
  });
}

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => {});
}

if (cluster.isWorker) {
  installFatalHandler({ worker: cluster.worker?.id });
  const worker = new Worker(process.env.FLOODGATE_CONFIG ?? '');
  process.on('message', (message: unknown) => {
    if (isPrimaryMessage(message)) void worker.handle(message);
  });
  send({ type: 'hello' });
  // Ctrl-C and `systemctl stop` may signal every process of the group, not only the primary; the
  // primary reloads the group, so this one ignores SIGHUP.
  onSignals({ stop: () => void worker.stop() });
  // The primary is gone: nobody can reach the admin port or stop this worker any more.
  process.on('disconnect', () => void worker.stop());
}
