import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { FloodgateConfig } from './floodgate-config.js';
import { freePort, OutputTail, PROXY_CORE, sleep, spawnOnCore, stopChild } from './processes.js';

export interface RegionSnapshot {
  breaker: 'closed' | 'open' | 'half-open';
  inflight: number;
  tokens: number;
  admittedRps: number;
  shedRps: number;
  baselineRps: number;
  surging: boolean;
}

export interface RunningFloodgate {
  readonly name: string;
  readonly url: string;
  readonly adminUrl: string;
  readonly pid?: number;
  /** Every line the gateway wrote to stdout (access and event lines); removed by `close`. */
  readonly logPath: string;
  regions(): Promise<Record<string, RegionSnapshot> | undefined>;
  metrics(): Promise<string | undefined>;
  /** SIGKILL, the way a crash or a hard restart stops it: requests in flight are lost. */
  kill(): Promise<void>;
  close(): Promise<void>;
}

/** The built command line, next to this file's compiled copy: dist/bench -> dist/src/cli.js. */
export const FLOODGATE_CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export function floodgateBuilt(): boolean {
  return existsSync(FLOODGATE_CLI);
}

/**
 * Starts `node cli.js --config FILE` on the proxy core with the given config, on free ports,
 * and resolves once the admin port's /readyz answers 200. Logging is the default (info, one
 * access line per request) and goes to a file, as it would on a server: every figure includes it.
 */
export async function startFloodgate(config: FloodgateConfig, name = 'floodgate'): Promise<RunningFloodgate> {
  if (!floodgateBuilt()) throw new Error(`floodgate is not built (${FLOODGATE_CLI} is missing)`);
  const dir = await mkdtemp(join(tmpdir(), 'bench-floodgate-'));
  const port = await freePort();
  const adminPort = await freePort();
  const file = join(dir, 'gateway.yaml');
  const full = {
    ...config,
    listen: { host: '127.0.0.1', port, ...config.listen },
    admin: { host: '127.0.0.1', port: adminPort },
  };
  await writeFile(file, stringify(full));
  const logPath = join(dir, 'stdout.log');
  const logFd = openSync(logPath, 'w');
  const child = spawnOnCore(PROXY_CORE, process.execPath, [FLOODGATE_CLI, '--config', file], {
    stdio: ['ignore', logFd, 'pipe'],
  });
  closeSync(logFd);
  const tail = new OutputTail();
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  const url = `${config.listen?.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const close = async () => {
    await stopChild(child, 5000);
    await keepLog(logPath, name);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(child, adminUrl, tail);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    name,
    url,
    adminUrl,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    logPath,
    regions: async () =>
      (await getJson<{ regions: Record<string, RegionSnapshot> }>(`${adminUrl}/admin/regions`))?.regions,
    metrics: () => getText(`${adminUrl}/metrics`),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await close();
    },
    close,
  };
}

/**
 * With BENCH_KEEP_LOGS=DIR, each gateway's stdout (access and event lines) is copied there before
 * its temporary folder goes, so a surprising figure can be traced to the requests behind it.
 */
async function keepLog(logPath: string, name: string): Promise<void> {
  const dir = process.env.BENCH_KEEP_LOGS;
  if (dir === undefined || dir === '') return;
  await mkdir(dir, { recursive: true });
  await copyFile(logPath, join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}.log`)).catch(
    () => undefined,
  );
}

async function waitUntilReady(child: ChildProcess, adminUrl: string, tail: OutputTail): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`floodgate exited with ${child.exitCode ?? child.signalCode}: ${tail}`);
    }
    try {
      const response = await fetch(`${adminUrl}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`floodgate was not ready within 15 s: ${tail}`);
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const text = await getText(url);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

async function getText(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const text = await response.text();
    return response.ok ? text : undefined;
  } catch {
    return undefined;
  }
}
