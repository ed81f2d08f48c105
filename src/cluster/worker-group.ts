import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  type ConfigInfo,
  notAppliedWhileStopping,
  type RegionView,
  type ReloadResult,
} from '../admin/admin-view.js';
import { ConfigError, type GatewayConfig, parseConfigText } from '../config/load.js';
import { logEvent } from '../observability/logger.js';
import { sumRegionViews } from './region-view-sum.js';
import type { MetricJson, PrimaryMessage, WorkerMessage } from './worker-messages.js';

/** One worker process as the primary sees it: node:cluster's Worker behind a narrow face, a fake in tests. */
export interface WorkerHandle {
  readonly id: number;
  send(message: PrimaryMessage): void;
  onMessage(listener: (message: WorkerMessage) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(signal: NodeJS.Signals): void;
}

export interface WorkerGroupOptions {
  size: number;
  configPath: string;
  fork: () => WorkerHandle;
  logger: Logger;
  /** Told of every reload the group applied or rejected (for the primary's metrics). */
  onReload?: (result: ReloadResult) => void;
  readConfigText?: (path: string) => Promise<string>;
  /** Before a crashed worker is replaced, so a worker that cannot start does not spin. */
  respawnDelayMs?: number;
  /** How long a worker has to answer a reload or a metrics request. */
  requestTimeoutMs?: number;
  /** Beyond the grace period, how long draining workers get before they are killed. */
  drainMarginMs?: number;
}

interface Member {
  readonly handle: WorkerHandle;
  ready: boolean;
  publicUrl: string | undefined;
  regions: Record<string, RegionView>;
  readonly started: Deferred<string>;
  readonly exited: Deferred<void>;
  readonly answers: Map<number, (message: WorkerMessage | undefined) => void>;
}

const DEFAULT_RESPAWN_DELAY_MS = 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_DRAIN_MARGIN_MS = 5000;

/**
 * The primary's side of a node:cluster worker group. The workers share the public port; the primary
 * answers the admin port for all of them: it validates a reload once and hands the same text to
 * every worker, adds up their region views and metrics, drains them together, and replaces a
 * worker that dies.
 */
export class WorkerGroup {
  private readonly members = new Map<number, Member>();
  private readonly respawns = new Set<NodeJS.Timeout>();
  private text = '';
  private drainTotalMs = 0;
  private draining = false;
  private nextRequestId = 1;
  private readonly info: ConfigInfo = { version: 1, loadedAt: new Date().toISOString(), lastError: null };

  constructor(private readonly options: WorkerGroupOptions) {}

  /** Forks every worker with the validated config text; resolves with the shared public URL once all serve. */
  async start(loaded: { text: string; config: GatewayConfig }): Promise<string> {
    this.text = loaded.text;
    this.drainTotalMs = drainMs(loaded.config);
    const members = Array.from({ length: this.options.size }, () => this.spawn());
    const urls = await Promise.all(members.map((m) => m.started.promise));
    return urls[0]!;
  }

  /** How long a worker's drain may take under the config applied last: the delay, then the grace period. */
  get drainMs(): number {
    return this.drainTotalMs;
  }

  get alive(): number {
    return this.members.size;
  }

  ready(): boolean {
    return !this.draining && [...this.members.values()].some((m) => m.ready);
  }

  configInfo(): ConfigInfo {
    return { ...this.info };
  }

  regions(): Record<string, RegionView> {
    return sumRegionViews(this.readyMembers().map((m) => m.regions));
  }

  /** Validates the file once, then has every worker apply the same text. */
  async reload(): Promise<ReloadResult> {
    if (this.draining) return this.notApplied();
    let loaded: { text: string; config: GatewayConfig };
    try {
      loaded = await readConfig(this.options.configPath, this.options.readConfigText);
    } catch (err) {
      return this.rejected(err instanceof ConfigError ? err.problems : [String(err)]);
    }
    if (this.draining) return this.notApplied();
    this.text = loaded.text;
    this.drainTotalMs = drainMs(loaded.config);
    const members = this.readyMembers();
    const answers = await Promise.all(
      members.map((m) => this.ask(m, (id) => ({ type: 'reload', id, text: loaded.text }))),
    );
    // Draining workers refuse it for that reason alone, as the group does once it drains.
    if (this.draining || answers.some((a) => a?.type === 'reloaded' && !a.result.ok && a.result.shuttingDown))
      return this.notApplied();
    const errors = answers.flatMap((answer, i) => {
      if (answer?.type !== 'reloaded') return [`worker ${members[i]!.handle.id}: no answer to the reload`];
      return answer.result.ok ? [] : answer.result.errors;
    });
    if (errors.length > 0) return this.rejected(errors);
    this.info.version++;
    this.info.loadedAt = new Date().toISOString();
    this.info.lastError = null;
    const result: ReloadResult = { ok: true, version: this.info.version };
    this.options.onReload?.(result);
    logEvent(this.options.logger, 'reload-applied', {
      file: this.options.configPath,
      version: this.info.version,
      workers: members.length,
    });
    return result;
  }

  /** Every serving worker's metrics, as prom-client JSON; a worker that does not answer in time is left out. */
  async collectMetrics(): Promise<MetricJson[][]> {
    const answers = await Promise.all(
      this.readyMembers().map((m) => this.ask(m, (id) => ({ type: 'metrics', id }))),
    );
    return answers.flatMap((answer) => (answer?.type === 'metrics' ? [answer.metrics] : []));
  }

  /** Tells every worker to drain; kills whichever has not exited after `drainMs` and a margin. */
  async drain(drainMs: number): Promise<void> {
    this.draining = true;
    for (const timer of this.respawns) clearTimeout(timer);
    this.respawns.clear();
    const members = [...this.members.values()];
    for (const m of members) m.handle.send({ type: 'drain' });
    const allExited = Promise.all(members.map((m) => m.exited.promise));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs + (this.options.drainMarginMs ?? DEFAULT_DRAIN_MARGIN_MS));
    });
    await Promise.race([allExited, deadline]);
    clearTimeout(timer);
    for (const m of this.members.values()) m.handle.kill('SIGKILL');
    await allExited;
  }

  private spawn(): Member {
    const handle = this.options.fork();
    const member: Member = {
      handle,
      ready: false,
      publicUrl: undefined,
      regions: {},
      started: deferred<string>(),
      exited: deferred<void>(),
      answers: new Map(),
    };
    // A failed start is reported through start(); a replacement's failure only through its exit.
    member.started.promise.catch(() => {});
    this.members.set(handle.id, member);
    handle.onMessage((message) => this.onMessage(member, message));
    handle.onExit((code, signal) => this.onExit(member, code, signal));
    return member;
  }

  private onMessage(member: Member, message: WorkerMessage): void {
    switch (message.type) {
      case 'hello':
        member.handle.send({ type: 'start', text: this.text, workers: this.options.size });
        return;
      case 'ready':
        member.ready = true;
        member.publicUrl = message.publicUrl;
        member.started.resolve(message.publicUrl);
        logEvent(this.options.logger, 'worker-ready', { worker: member.handle.id });
        return;
      case 'failed':
        member.started.reject(new Error(`worker ${member.handle.id} failed to start: ${message.error}`));
        return;
      case 'state':
        member.regions = message.regions;
        return;
      case 'reloaded':
      case 'metrics':
        member.answers.get(message.id)?.(message);
        return;
    }
  }

  private onExit(member: Member, code: number | null, signal: string | null): void {
    this.members.delete(member.handle.id);
    for (const answer of member.answers.values()) answer(undefined);
    member.started.reject(
      new Error(`worker ${member.handle.id} exited (${signal ?? code}) before it served`),
    );
    member.exited.resolve();
    if (this.draining) return;
    // Ctrl-C and `systemctl stop` signal the workers and the primary at once: a worker may exit just
    // before the primary starts draining. Waiting before the replacement lets that drain cancel it.
    const timer = setTimeout(() => {
      this.respawns.delete(timer);
      if (this.draining) return;
      this.options.logger.warn(
        { event: 'worker-exited', worker: member.handle.id, code, signal },
        'worker exited',
      );
      this.spawn();
    }, this.options.respawnDelayMs ?? DEFAULT_RESPAWN_DELAY_MS);
    this.respawns.add(timer);
  }

  private ask(member: Member, build: (id: number) => PrimaryMessage): Promise<WorkerMessage | undefined> {
    const id = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => settle(undefined),
        this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      );
      const settle = (message: WorkerMessage | undefined) => {
        clearTimeout(timer);
        member.answers.delete(id);
        resolve(message);
      };
      member.answers.set(id, settle);
      member.handle.send(build(id));
    });
  }

  private readyMembers(): Member[] {
    return [...this.members.values()].filter((m) => m.ready);
  }

  private notApplied(): ReloadResult {
    return notAppliedWhileStopping(this.options.configPath, this.options.logger);
  }

  private rejected(errors: string[]): ReloadResult {
    this.info.lastError = errors.join('\n');
    const result: ReloadResult = { ok: false, errors };
    this.options.onReload?.(result);
    logEvent(this.options.logger, 'reload-rejected', { file: this.options.configPath, errors });
    return result;
  }
}

/** Reads and validates a config file, keeping its text to hand to the workers. */
export async function readConfig(
  path: string,
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): Promise<{ text: string; config: GatewayConfig }> {
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    throw new ConfigError([
      `${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  return { text, config: parseConfigText(text, path) };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function drainMs(config: GatewayConfig): number {
  return config.drainDelayMs + config.shutdownGraceMs;
}
