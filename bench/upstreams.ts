import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOAD_CORE, OutputTail, spawnOnCore, stopChild } from './processes.js';
import type { SimulatorMode, SimulatorStats } from './simulator.js';
import type { HostReply, HostRequest, SimulatorSpec } from './upstream-host.js';

type HostCall = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

/** Simulated backends running in their own process; each spec becomes one backend with its own URL. */
export interface UpstreamHost {
  readonly urls: string[];
  urlOf(name: string): string;
  stats(): Promise<SimulatorStats[]>;
  statsOf(name: string): Promise<SimulatorStats>;
  setMode(name: string, mode: SimulatorMode): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

const HOST_SCRIPT = fileURLToPath(new URL('./upstream-host.js', import.meta.url));

export async function startUpstreams(specs: SimulatorSpec[]): Promise<UpstreamHost> {
  const child = spawnOnCore(LOAD_CORE, process.execPath, [HOST_SCRIPT, JSON.stringify(specs)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const tail = new OutputTail();
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  const urls = (await waitForReady(child, tail)) as string[];
  return new RemoteUpstreams(child, specs, urls);
}

function waitForReady(child: ChildProcess, tail: OutputTail): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`upstream host exited (${code}): ${tail}`));
    child.once('exit', onExit);
    child.once('message', (message: HostReply) => {
      child.off('exit', onExit);
      resolve(message.result);
    });
  });
}

class RemoteUpstreams implements UpstreamHost {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (e: Error) => void }
  >();

  constructor(
    private readonly child: ChildProcess,
    private readonly specs: SimulatorSpec[],
    readonly urls: string[],
  ) {
    child.on('message', (message: HostReply) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    child.once('exit', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('upstream host exited'));
      this.pending.clear();
    });
  }

  urlOf(name: string): string {
    return this.urls[this.indexOf(name)]!;
  }

  async stats(): Promise<SimulatorStats[]> {
    return (await this.call({ method: 'stats' })) as SimulatorStats[];
  }

  async statsOf(name: string): Promise<SimulatorStats> {
    return (await this.stats())[this.indexOf(name)]!;
  }

  async setMode(name: string, mode: SimulatorMode): Promise<void> {
    await this.call({ method: 'setMode', index: this.indexOf(name), mode });
  }

  async reset(): Promise<void> {
    await this.call({ method: 'reset' });
  }

  close(): Promise<void> {
    return stopChild(this.child, 2000);
  }

  private indexOf(name: string): number {
    const index = this.specs.findIndex((spec) => spec.name === name);
    if (index === -1) throw new Error(`no simulated backend named ${name}`);
    return index;
  }

  private call(request: HostCall): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...request, id } as HostRequest);
    });
  }
}
