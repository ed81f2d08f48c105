import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOAD_CORE, OutputTail, spawnOnCore, stopChild } from './processes.js';
import type { SimulatorMode, SimulatorStats } from './simulator.js';
import type { HostReply, HostRequest, SimulatorSpec } from './upstream-host.js';

type HostCall = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

/** Simulated backends, one process each; each spec becomes one backend with its own URL. */
export interface UpstreamHost {
  readonly urls: string[];
  /** Backend name -> process id, for CPU accounting. */
  readonly pids: Record<string, number | undefined>;
  urlOf(name: string): string;
  stats(): Promise<SimulatorStats[]>;
  setMode(name: string, mode: SimulatorMode): Promise<void>;
  /** Changes every backend's mean service time, e.g. to slow a region down mid-run. */
  setServiceMs(ms: number): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

const HOST_SCRIPT = fileURLToPath(new URL('./upstream-host.js', import.meta.url));

export async function startUpstreams(specs: SimulatorSpec[]): Promise<UpstreamHost> {
  const started = await Promise.allSettled(specs.map((spec) => BackendProcess.start(spec)));
  const backends = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(backends.map((backend) => backend.close()));
    throw failure.reason;
  }
  return new BackendGroup(backends);
}

class BackendGroup implements UpstreamHost {
  readonly urls: string[];
  readonly pids: Record<string, number | undefined>;

  constructor(private readonly backends: BackendProcess[]) {
    this.urls = backends.map((backend) => backend.url);
    this.pids = Object.fromEntries(backends.map((backend) => [backend.name, backend.pid]));
  }

  urlOf(name: string): string {
    return this.named(name).url;
  }

  stats(): Promise<SimulatorStats[]> {
    return Promise.all(
      this.backends.map((backend) => backend.call({ method: 'stats' }) as Promise<SimulatorStats>),
    );
  }

  async setMode(name: string, mode: SimulatorMode): Promise<void> {
    await this.named(name).call({ method: 'setMode', mode });
  }

  async setServiceMs(ms: number): Promise<void> {
    await Promise.all(this.backends.map((backend) => backend.call({ method: 'setServiceMs', ms })));
  }

  async reset(): Promise<void> {
    await Promise.all(this.backends.map((backend) => backend.call({ method: 'reset' })));
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((backend) => backend.close()));
  }

  private named(name: string): BackendProcess {
    const backend = this.backends.find((candidate) => candidate.name === name);
    if (!backend) throw new Error(`no simulated backend named ${name}`);
    return backend;
  }
}

class BackendProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (e: Error) => void }
  >();

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: HostReply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    child.once('exit', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`backend ${name} exited`));
      this.pending.clear();
    });
  }

  static async start(spec: SimulatorSpec): Promise<BackendProcess> {
    const child = spawnOnCore(LOAD_CORE, process.execPath, [HOST_SCRIPT, JSON.stringify(spec)], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const tail = new OutputTail();
    child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
    const url = await new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`backend ${spec.name} exited (${code}): ${tail}`));
      child.once('exit', onExit);
      child.once('message', (message: HostReply) => {
        child.off('exit', onExit);
        resolve(message.result as string);
      });
    });
    return new BackendProcess(spec.name, url, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call(request: HostCall): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...request, id } as HostRequest);
    });
  }

  close(): Promise<void> {
    return stopChild(this.child, 2000);
  }
}
