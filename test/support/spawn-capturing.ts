import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

export interface CapturedProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns a process whose stdout and stderr are collected together, for tests that read them. */
export function spawnCapturing(command: string, args: string[], options: SpawnOptions = {}): CapturedProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}
