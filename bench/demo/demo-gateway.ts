import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DestinationStream } from 'pino';
import { parseDocument } from 'yaml';
import { batchedDestination, createLogger } from '../../src/observability/logger.js';
import { type RunningGateway, startGateway } from '../../src/start-gateway.js';
import type { Simulator } from '../simulator.js';

/** The config the demo starts from, next to this file's compiled copy: dist/bench/demo -> config. */
export const DEMO_CONFIG = fileURLToPath(new URL('../../../config/demo.yaml', import.meta.url));

/** A lifecycle event the gateway logged (surge began, breaker opened...). */
export interface GatewayEvent {
  event: string;
  region?: string;
  currentRps?: number;
  baselineRps?: number;
}

export interface DemoGateway {
  readonly running: RunningGateway;
  /** Drains the gateway, then removes its config file. */
  close(): Promise<void>;
}

// Lifecycle events worth showing next to the live table; the rest (started, shutdown...) are noise here.
const SHOWN_EVENTS = /"event":"(surge|breaker)-/;

/**
 * Starts the gateway in this process on config/demo.yaml with each region's upstream pointed at its
 * simulator, and on the file's listen and admin ports when they are free (any free port otherwise).
 * With `accessLog`, access lines are turned on and every log line is also written to that file
 * (for `floodgate replay`).
 */
export async function startDemoGateway(
  simulators: ReadonlyMap<string, Simulator>,
  onEvent: (event: GatewayEvent) => void,
  accessLog?: string,
): Promise<DemoGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'floodgate-demo-'));
  const configPath = join(dir, 'demo.yaml');
  try {
    await writeFile(configPath, await demoConfigText(simulators, accessLog !== undefined));
    const logger = createLogger('info', demoDestination(onEvent, accessLog));
    const running = await startGateway({ configPath, logger });
    return {
      running,
      close: async () => {
        await running.shutdown();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function demoDestination(onEvent: (event: GatewayEvent) => void, accessLog?: string): DestinationStream {
  const file = accessLog === undefined ? undefined : batchedDestination(accessLog);
  return {
    write(line: string) {
      forwardEvent(line, onEvent);
      file?.write(line);
    },
    // Shutdown flushes the logger; the file must get its last lines too.
    flush(done?: (err?: Error) => void) {
      const flushable = file as { flush?: (cb: (err?: Error) => void) => void } | undefined;
      if (flushable?.flush) flushable.flush(done ?? (() => {}));
      else done?.();
    },
  } as DestinationStream;
}

async function demoConfigText(simulators: ReadonlyMap<string, Simulator>, access: boolean): Promise<string> {
  const document = parseDocument(await readFile(DEMO_CONFIG, 'utf8'));
  if (access) document.setIn(['log', 'access'], true);
  for (const [region, simulator] of simulators) {
    if (!document.hasIn(['regions', region])) throw new Error(`${DEMO_CONFIG}: regions.${region} is missing`);
    document.setIn(['regions', region, 'upstreams'], [simulator.url]);
  }
  for (const key of ['listen', 'admin']) {
    const host = String(document.getIn([key, 'host']) ?? '127.0.0.1');
    const port = Number(document.getIn([key, 'port']) ?? 0);
    document.setIn([key, 'port'], (await portIsFree(host, port)) ? port : 0);
  }
  return document.toString();
}

function portIsFree(host: string, port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

function forwardEvent(line: string, onEvent: (event: GatewayEvent) => void): void {
  if (!SHOWN_EVENTS.test(line)) return;
  try {
    onEvent(JSON.parse(line) as GatewayEvent);
  } catch {
    // A line that is not one JSON object is not an event.
  }
}
