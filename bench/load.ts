import autocannon from 'autocannon';
import { assertLoopback } from './loopback.js';

export interface ClosedLoopOptions {
  url: string;
  path?: string;
  headers?: Record<string, string>;
  /** Keep-alive connections, each with one request in flight. */
  connections: number;
  /** How long to run; with `amount`, the longest the run may take. */
  durationSec: number;
  /**
   * Runs until this many responses instead: a short run measured by count still measures
   * something when the machine stalls for a while, where a short run measured by time may not.
   */
  amount?: number;
  timeoutSec?: number;
  /** Called once a second with the responses received in that second. */
  onSecond?: (responses: number) => void;
}

export interface ClosedLoopResult {
  requests: number;
  durationSec: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

/**
 * How long a throughput run lasts: seconds in a full run; in a quick run, a count of answers with
 * a generous time cap, so that a machine that stalls for a moment still yields a measurement.
 */
export function closedLoopBudget(
  quick: boolean,
  stage: 'warm-up' | 'measure',
): Pick<ClosedLoopOptions, 'durationSec' | 'amount'> {
  if (stage === 'warm-up') return quick ? { durationSec: 5, amount: 100 } : { durationSec: 1 };
  return quick ? { durationSec: 15, amount: 500 } : { durationSec: 8 };
}

export function describeBudget(budget: Pick<ClosedLoopOptions, 'durationSec' | 'amount'>): string {
  return budget.amount === undefined ? `${budget.durationSec} s` : `${budget.amount} answers`;
}

/**
 * As many requests as `connections` keep-alive clients can push: the classic throughput test,
 * driven by autocannon. Latency covers every answer, whatever its status (a shed 503 too).
 */
export function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const url = new URL(options.path ?? '/', options.url).toString();
  assertLoopback(url);
  return new Promise((resolve, reject) => {
    let thisSecond = 0;
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        duration: options.durationSec,
        ...(options.amount === undefined ? {} : { amount: options.amount }),
        timeout: options.timeoutSec ?? 10,
        headers: options.headers ?? {},
        excludeErrorStats: false,
        // autocannon notices the end of the run only at a sample tick; short runs need short ticks.
        sampleInt: 100,
      },
      (error, result) => {
        clearInterval(ticker);
        clearTimeout(deadline);
        if (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        const durationSec = result.duration > 0 ? result.duration : options.durationSec;
        const statuses: Record<string, number> = {};
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
          statuses[code] = stat.count ?? 0;
        const answered = Object.values(statuses).reduce((sum, count) => sum + count, 0);
        resolve({
          requests: answered,
          durationSec,
          rps: answered / durationSec,
          latencyMs: {
            p50: result.latency.p50,
            p90: result.latency.p90,
            p99: result.latency.p99,
            max: result.latency.max,
            mean: result.latency.average,
          },
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', () => {
      thisSecond++;
    });
    // autocannon ignores the duration once an amount is set, so the cap is enforced here.
    const deadline =
      options.amount === undefined
        ? undefined
        : setTimeout(() => instance.stop(), options.durationSec * 1000);
    const ticker = setInterval(() => {
      options.onSecond?.(thisSecond);
      thisSecond = 0;
    }, 1000);
  });
}
