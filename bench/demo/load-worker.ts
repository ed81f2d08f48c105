/**
 * The demo's clients, on their own thread so that sending load never competes with the gateway
 * and the simulated backends for one event loop. Each stream runs as its own open loop because
 * the open loop's once-a-second report covers all of its streams together, and the live view
 * needs every region and kind apart.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type OpenLoopResult, runOpenLoop } from '../open-loop.js';
import type { LoadWorkerInput, LoadWorkerMessage, PhaseResults } from './demo-load.js';

async function main(input: LoadWorkerInput): Promise<void> {
  const runs = input.streams.map((stream) =>
    runOpenLoop({
      url: input.url,
      streams: [stream],
      phases: input.phases,
      timeoutMs: input.timeoutMs,
      onSecond: (report) => {
        // The report after the last phase covers only part of a second; it would read as a drop.
        if (report.second * 1000 > report.totalMs) return;
        post({
          type: 'second',
          stream: stream.name,
          second: report.second,
          sent: report.sent,
          good: report.good,
        });
      },
    }),
  );
  post({ type: 'done', phases: mergePhases(await Promise.all(runs)) });
}

function mergePhases(results: OpenLoopResult[]): PhaseResults {
  const first = results[0];
  if (first === undefined) return [];
  return first.phases.map((phase, index) => ({
    name: phase.name,
    durationMs: phase.durationMs,
    streams: Object.assign({}, ...results.map((result) => result.phases[index]!.streams)),
  }));
}

function post(message: LoadWorkerMessage): void {
  parentPort?.postMessage(message);
}

main(workerData as LoadWorkerInput).catch((error: unknown) => {
  post({ type: 'failed', error: String(error) });
});
