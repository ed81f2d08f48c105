import { execFile } from 'node:child_process';
import { assertLoopback } from './loopback.js';
import { LOAD_CORE, onPath, pinningAvailable } from './processes.js';

/** What one h2load run measured. */
export interface H2loadResult {
  rps: number;
  /** Requests answered (any status). */
  done: number;
  /** Answered 2xx. */
  ok: number;
  /** Answered 3xx, 4xx or 5xx. */
  notOk: number;
  /** What h2load negotiated: `h2` or `http/1.1`, and the TLS version (none over plain TCP). */
  application: string;
  tlsVersion: string | undefined;
  /** Not answered: connection or stream errors, timeouts. */
  failed: number;
  meanMs: number;
  maxMs: number;
}

export interface H2loadOptions {
  url: string;
  /** HTTP/1.1 (`--h1`); otherwise HTTP/2, by ALPN over TLS or prior knowledge over plain TCP. */
  http1: boolean;
  /** Connections. */
  clients: number;
  /** Concurrent streams per HTTP/2 connection (HTTP/1.1 has one request at a time). */
  streams: number;
  durationSec: number;
  warmUpSec: number;
}

/** h2load (Debian's nghttp2-client): one C load generator for HTTP/1.1 and HTTP/2, plain or TLS. */
export function h2loadAvailable(): boolean {
  return onPath('h2load') !== undefined;
}

export function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  assertLoopback(options.url);
  const args = [
    '-t1',
    `-c${options.clients}`,
    `-m${options.http1 ? 1 : options.streams}`,
    `-D${options.durationSec}`,
    `--warm-up-time=${options.warmUpSec}`,
    ...(options.http1 ? ['--h1'] : []),
    options.url,
  ];
  const [command, commandArgs] = pinningAvailable()
    ? ['taskset', ['-c', String(LOAD_CORE), 'h2load', ...args]]
    : ['h2load', args];
  const timeout = (options.durationSec + options.warmUpSec + 30) * 1000;
  return new Promise((resolve, reject) => {
    execFile(command, commandArgs, { timeout, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`h2load failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(parseH2loadOutput(stdout));
    });
  });
}

/**
 * Reads h2load's summary, e.g.
 * `finished in 5.00s, 23456.70 req/s, 3.12MB/s`,
 * `requests: 117284 total, 117334 started, 117284 done, 117284 succeeded, 0 failed, 0 errored, 0 timeout`,
 * `status codes: 117284 2xx, 0 3xx, 0 4xx, 0 5xx`,
 * `time for request:      120us     12.05ms      2.10ms      1.02ms    71.84%`.
 */
export function parseH2loadOutput(output: string): H2loadResult {
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(output)?.[1] ?? Number.NaN);
  const requests =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      output,
    );
  const counts = (requests ?? []).slice(1).map(Number);
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const [ok = 0, s3 = 0, s4 = 0, s5 = 0] = (statuses ?? []).slice(1).map(Number);
  const times = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  return {
    rps,
    done: counts[2] ?? 0,
    ok,
    notOk: s3 + s4 + s5,
    application: /Application protocol: (\S+)/.exec(output)?.[1] ?? 'unknown',
    tlsVersion: /TLS Protocol: (\S+)/.exec(output)?.[1],
    failed: (counts[4] ?? 0) + (counts[5] ?? 0) + (counts[6] ?? 0),
    meanMs: times ? toMs(times[5]!, times[6]!) : Number.NaN,
    maxMs: times ? toMs(times[3]!, times[4]!) : Number.NaN,
  };
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}
