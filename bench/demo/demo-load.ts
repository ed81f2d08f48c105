import { Worker } from 'node:worker_threads';
import type { LoadPhase, LoadStream, StreamPhaseResult } from '../open-loop.js';

export interface LoadWorkerInput {
  url: string;
  streams: LoadStream[];
  phases: LoadPhase[];
  timeoutMs: number;
}

/** Every stream's counts for each phase of the run. */
export type PhaseResults = Array<{
  name: string;
  durationMs: number;
  streams: Record<string, StreamPhaseResult>;
}>;

export type LoadWorkerMessage =
  | { type: 'second'; stream: string; second: number; sent: number; good: number }
  | { type: 'done'; phases: PhaseResults }
  | { type: 'failed'; error: string };

/** One stream's last completed second: requests sent in it and good answers (fresh or stale) received. */
export interface StreamSecond {
  second: number;
  sent: number;
  good: number;
}

export interface DemoLoad {
  /** Resolves with every stream's counts per phase once the last phase has run and all answers are in. */
  readonly finished: Promise<PhaseResults>;
  lastSecond(stream: string): StreamSecond | undefined;
  /** Stops sending at once; requests in flight are abandoned. */
  stop(): Promise<void>;
}

const WORKER_SCRIPT = new URL('./load-worker.js', import.meta.url);

/** Starts the open-loop clients on a worker thread. */
export function startDemoLoad(input: LoadWorkerInput): DemoLoad {
  const worker = new Worker(WORKER_SCRIPT, { workerData: input });
  const seconds = new Map<string, StreamSecond>();
  const finished = new Promise<PhaseResults>((resolve, reject) => {
    worker.on('message', (message: LoadWorkerMessage) => {
      if (message.type === 'second') seconds.set(message.stream, message);
      else if (message.type === 'done') resolve(message.phases);
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`load generator stopped (exit ${code})`)));
  });
  // Without a listener an early stop would surface as an unhandled rejection.
  finished.catch(() => undefined);
  return {
    finished,
    lastSecond: (stream) => seconds.get(stream),
    stop: async () => {
      await worker.terminate();
    },
  };
}
