import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { CountsStore } from './sim/counts-store.js';
import { lognormalSampler, seededRandom, seedFromText } from './sim/random.js';
import { trueLikes, trueViews } from './sim/video-catalog.js';
import { WorkerQueue } from './sim/worker-queue.js';

export interface SimulatorOptions {
  name: string;
  /** Requests served at once; the rest wait in an unbounded FIFO queue. */
  workers: number;
  /** Mean time a request holds a worker (lognormal around it). */
  serviceMs: number;
  /** Lookups the counts store serves at once. */
  countsCapacity: number;
  countsServiceMs: number;
  countsQueueLimit: number;
  countsDeadlineMs: number;
  seed: number;
}

/** `failing` answers 500 at once, `hanging` never answers, `down` refuses connections. */
export type SimulatorMode = 'healthy' | 'failing' | 'hanging' | 'down';

export interface SimulatorStats {
  name: string;
  mode: SimulatorMode;
  served: number;
  zerosServed: number;
  failed: number;
  /** Answers written after the client had already gone. */
  abandoned: number;
  queueLength: number;
  maxQueue: number;
  inService: number;
  countsQueueLength: number;
  /** How late this process ran its timers: a starved backend serves slower than its model says. */
  loopLagP99Ms: number;
  loopLagMaxMs: number;
}

export interface Simulator {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  stats(): SimulatorStats;
  setMode(mode: SimulatorMode): Promise<void>;
  /** From now on requests hold a worker for about `ms` (a slowed or sped-up backend); queued ones included. */
  setServiceMs(ms: number): void;
  /** Drops every queued and open request and zeroes the counters, like a restart. */
  reset(): void;
  close(): Promise<void>;
}

export const defaultSimulatorOptions: Omit<SimulatorOptions, 'name' | 'seed'> = {
  workers: 8,
  serviceMs: 40,
  countsCapacity: 2,
  countsServiceMs: 14,
  countsQueueLimit: 6,
  countsDeadlineMs: 80,
};

const SMALL_BODY = Buffer.from('{"ok":true}');
const FAILURE_BODY = Buffer.from('{"error":"internal"}');
const NOT_FOUND_BODY = Buffer.from('{"error":"not found"}');
const NOTIFICATIONS_BODY = Buffer.from(
  JSON.stringify({
    items: [
      { id: 'n1', text: 'new upload' },
      { id: 'n2', text: 'new comment' },
    ],
  }),
);

type Kind = 'video' | 'likes' | 'notifications';

export async function startSimulator(
  options: Partial<SimulatorOptions> & { name: string },
  port = 0,
): Promise<Simulator> {
  const settings: SimulatorOptions = {
    ...defaultSimulatorOptions,
    seed: seedFromText(options.name),
    ...options,
  };
  const backend = new SimulatedBackend(settings);
  await backend.listen(port);
  return backend;
}

class SimulatedBackend implements Simulator {
  readonly name: string;
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly workers: WorkerQueue;
  private readonly counts: CountsStore;
  private readonly random: () => number;
  private serviceTime: () => number;
  private mode: SimulatorMode = 'healthy';
  private served = 0;
  private zerosServed = 0;
  private failed = 0;
  private abandoned = 0;
  private readonly loopLag = monitorEventLoopDelay({ resolution: 10 });

  constructor(options: SimulatorOptions) {
    this.name = options.name;
    const random = seededRandom(options.seed);
    this.random = random;
    this.workers = new WorkerQueue(options.workers);
    this.serviceTime = lognormalSampler(random, options.serviceMs);
    this.counts = new CountsStore(
      {
        slots: options.countsCapacity,
        serviceMs: options.countsServiceMs,
        queueLimit: options.countsQueueLimit,
        deadlineMs: options.countsDeadlineMs,
      },
      random,
    );
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.loopLag.enable();
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address && typeof address === 'object') this.port = address.port;
        resolve();
      });
    });
  }

  stats(): SimulatorStats {
    return {
      name: this.name,
      mode: this.mode,
      served: this.served,
      zerosServed: this.zerosServed,
      failed: this.failed,
      abandoned: this.abandoned,
      queueLength: this.workers.length,
      maxQueue: this.workers.maxLength,
      inService: this.workers.inService,
      countsQueueLength: this.counts.queueLength,
      loopLagP99Ms: Math.round(this.loopLag.percentile(99) / 1e6),
      loopLagMaxMs: Math.round(this.loopLag.max / 1e6),
    };
  }

  async setMode(mode: SimulatorMode): Promise<void> {
    if (mode === this.mode) return;
    const wasDown = this.mode === 'down';
    this.mode = mode;
    if (mode === 'down') {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.destroySockets();
      });
    } else if (wasDown) {
      await this.listen(this.port);
    }
  }

  setServiceMs(ms: number): void {
    this.serviceTime = lognormalSampler(this.random, ms);
  }

  reset(): void {
    this.workers.clear();
    this.counts.clear();
    this.destroySockets();
    this.served = 0;
    this.zerosServed = 0;
    this.failed = 0;
    this.abandoned = 0;
    this.loopLag.reset();
  }

  async close(): Promise<void> {
    this.loopLag.disable();
    this.destroySockets();
    if (this.mode === 'down') return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url === '/small') {
      reply(res, 200, SMALL_BODY);
      return;
    }
    const kind = kindOf(url);
    if (kind === undefined) {
      reply(res, 404, NOT_FOUND_BODY);
      return;
    }
    if (this.mode === 'failing') {
      this.failed++;
      reply(res, 500, FAILURE_BODY);
      return;
    }
    if (this.mode === 'hanging') return;
    const videoId = kind === 'notifications' ? '' : idFrom(url);
    this.workers.acquire(() => this.serve(res, kind, videoId));
  }

  private serve(res: ServerResponse, kind: Kind, videoId: string): void {
    const holdMs = this.serviceTime();
    if (kind === 'notifications') {
      setTimeout(() => this.finish(res, NOTIFICATIONS_BODY, false), holdMs);
      return;
    }
    this.counts.lookup(trueLikes(videoId), (likes) => {
      const body = kind === 'video' ? videoBody(videoId, likes) : likesBody(videoId, likes);
      setTimeout(() => this.finish(res, body, likes === 0), holdMs);
    });
  }

  private finish(res: ServerResponse, body: Buffer, zero: boolean): void {
    this.workers.release();
    if (clientGone(res)) {
      // Wasted work: the client gave up while this request waited, as happens in real overloads.
      this.abandoned++;
      return;
    }
    this.served++;
    if (zero) this.zerosServed++;
    res.setHeader('x-upstream', this.name);
    reply(res, 200, body);
  }
}

function reply(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function clientGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

function kindOf(url: string): Kind | undefined {
  if (url.startsWith('/api/video/')) return 'video';
  if (url.startsWith('/api/likes/')) return 'likes';
  if (url.startsWith('/api/notifications')) return 'notifications';
  return undefined;
}

function idFrom(url: string): string {
  const start = url.indexOf('/', 5) + 1;
  const end = url.indexOf('?', start);
  return end === -1 ? url.slice(start) : url.slice(start, end);
}

function videoBody(videoId: string, likes: number): Buffer {
  const views = likes === 0 ? 0 : trueViews(videoId);
  return Buffer.from(`{"id":"${videoId}","title":"Video ${videoId}","views":${views},"likes":${likes}}`);
}

function likesBody(videoId: string, likes: number): Buffer {
  return Buffer.from(`{"id":"${videoId}","likes":${likes}}`);
}
