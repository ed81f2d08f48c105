import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { OutputTail, PROXY_CORE, sleep, spawnOnCore, stopChild } from '../processes.js';

/** One reading of the gateway process: what a leak would make grow. */
export interface ProcessSample {
  rssBytes: number;
  heapUsedBytes: number | undefined;
  /** Open file descriptors; undefined where /proc is not available. */
  openFds: number | undefined;
}

export interface RegionsView {
  regions: Record<string, { inflight: number; breaker: string; upstreams: { inflight: number }[] }>;
}

export interface SoakGateway {
  readonly mode: 'child' | 'in-process';
  readonly publicUrl: string;
  readonly adminUrl: string;
  /** Why the gateway is gone, or undefined while it runs. */
  exited(): string | undefined;
  sample(): Promise<ProcessSample>;
  regions(): Promise<RegionsView | undefined>;
  close(): Promise<void>;
}

export interface GatewayAddresses {
  configPath: string;
  port: number;
  adminPort: number;
}

/** The built command line, beside this file's compiled copy: dist/bench/soak -> dist/src/cli.js. */
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

/** Runs the built CLI as a child process, so its memory and descriptors are measured apart from the load. */
export async function startChildGateway(at: GatewayAddresses): Promise<SoakGateway> {
  const child = spawnOnCore(PROXY_CORE, process.execPath, [CLI, '--config', at.configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail = new OutputTail();
  child.stdout?.on('data', (chunk: Buffer) => tail.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = `exited with ${code ?? signal}: ${tail}`;
  });
  const urls = urlsOf(at);
  await waitUntilReady(urls.adminUrl, () => exit);
  const pid = child.pid!;
  return {
    mode: 'child',
    ...urls,
    exited: () => exit,
    sample: async () => ({
      rssBytes: await rssOf(pid),
      heapUsedBytes: await heapFromMetrics(urls.adminUrl),
      openFds: await fdCount(`/proc/${pid}/fd`),
    }),
    regions: () => regionsOf(urls.adminUrl),
    close: () => stopChild(child, 10_000),
  };
}

/** Runs the gateway inside this process: measurements then include the load generator too. */
export async function startInProcessGateway(at: GatewayAddresses): Promise<SoakGateway> {
  const { startGateway } = await import('../../src/start-gateway.js');
  const running = await startGateway({ configPath: at.configPath });
  const urls = urlsOf(at);
  let closed = false;
  return {
    mode: 'in-process',
    ...urls,
    exited: () => (closed ? 'shut down' : undefined),
    sample: async () => {
      const usage = process.memoryUsage();
      return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, openFds: await fdCount('/proc/self/fd') };
    },
    regions: () => regionsOf(urls.adminUrl),
    close: async () => {
      closed = true;
      await running.shutdown();
    },
  };
}

function urlsOf(at: GatewayAddresses): { publicUrl: string; adminUrl: string } {
  return { publicUrl: `http://127.0.0.1:${at.port}`, adminUrl: `http://127.0.0.1:${at.adminPort}` };
}

async function waitUntilReady(adminUrl: string, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone !== undefined) throw new Error(`the gateway ${gone}`);
    try {
      const response = await fetch(`${adminUrl}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`the gateway was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function regionsOf(adminUrl: string): Promise<RegionsView | undefined> {
  try {
    const response = await fetch(`${adminUrl}/admin/regions`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? ((await response.json()) as RegionsView) : undefined;
  } catch {
    return undefined;
  }
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? 0 : Number(kib) * 1024;
}

async function heapFromMetrics(adminUrl: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(2000) });
    const text = await response.text();
    const value = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}

async function fdCount(dir: string): Promise<number | undefined> {
  try {
    return (await readdir(dir)).length;
  } catch {
    return undefined;
  }
}
