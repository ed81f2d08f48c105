import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { stringify } from 'yaml';
import { type RunningGateway, startGateway } from '../../src/start-gateway.js';

export interface TestGateway extends Omit<RunningGateway, 'adminUrl'> {
  /** Test gateways always serve the admin port. */
  adminUrl: string;
  configPath: string;
  /** Every JSON log line written so far. */
  logs: Record<string, unknown>[];
  /** Rewrites the config file (for reload tests). */
  writeConfig(config: object): Promise<void>;
  close(): Promise<void>;
}

/** Starts a gateway on ephemeral ports from a config object, logging into memory. */
export async function startTestGateway(config: Record<string, unknown>): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'floodgate-test-'));
  const configPath = join(dir, 'gateway.yaml');
  const withPorts = {
    listen: { host: '127.0.0.1', port: 0, ...(config.listen as object) },
    admin: { host: '127.0.0.1', port: 0, ...(config.admin as object) },
    ...withoutKeys(config, ['listen', 'admin']),
  };
  await writeFile(configPath, stringify(withPorts));
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const running = await startGateway({ configPath, logger });
  let closed = false;
  return Object.assign(Object.create(null) as object, running, {
    configPath,
    logs,
    publicUrl: running.publicUrl,
    adminUrl: running.adminUrl!,
    gateway: running.gateway,
    view: running.view,
    reload: running.reload,
    shutdown: running.shutdown,
    async writeConfig(next: object) {
      await writeFile(configPath, stringify(next));
    },
    async close() {
      if (closed) return;
      closed = true;
      await running.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

function withoutKeys(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

/** A one-region config around the given upstream URLs. */
export function oneRegion(upstreams: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    regions: { 'us-east': { upstreams, capacity: { rps: 10_000, burst: 10_000 }, timeoutMs: 1000 } },
    routing: { default: 'us-east' },
    shutdownGraceMs: 2000,
    ...extra,
  };
}
