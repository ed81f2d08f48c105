import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';

/** The load generator and the simulated backends share one core; the proxy under test gets the other. */
export const LOAD_CORE = 0;
export const PROXY_CORE = 1;

const children = new Set<ChildProcess>();
let cleanupInstalled = false;

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Counts the machine's cores, not this process's: once the load generator has pinned itself to
 * one core, the cores it may use no longer say whether the proxy can have another.
 */
export function pinningAvailable(): boolean {
  return process.env.BENCH_PIN !== '0' && cpus().length >= 2 && onPath('taskset') !== undefined;
}

/** Pins every thread of a running process to one core; false when pinning is not possible here. */
export function pinProcess(pid: number, core: number): boolean {
  if (!pinningAvailable()) return false;
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a child on one core (through taskset, so every thread it ever creates inherits the
 * core) and remembers it, so an interrupted run leaves nothing behind.
 */
export function spawnOnCore(
  core: number,
  command: string,
  args: string[],
  options: SpawnOptions,
): ChildProcess {
  const pinned = pinningAvailable();
  const child = pinned
    ? spawn('taskset', ['-c', String(core), command, ...args], options)
    : spawn(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  installCleanup();
  return child;
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address && typeof address === 'object' ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the last few kilobytes a child printed, to explain why it failed to start. */
export class OutputTail {
  private text = '';

  constructor(private readonly limit = 4096) {}

  append(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }

  toString(): string {
    return this.text.slice(-this.limit).trim();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}
