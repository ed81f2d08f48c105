import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort, LOAD_CORE, pinningAvailable, sleep, stopChild } from './processes.js';

export interface BenchRedis {
  readonly url: string;
  /** A crash: the server is gone at once, with its data. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
}

/** A throw-away redis-server (no persistence) on the load core; `kill` is a crash, `restart` comes back empty. */
export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const launch = async () => {
    const pinned = pinningAvailable();
    child = spawn(
      pinned ? 'taskset' : 'redis-server',
      pinned ? ['-c', String(LOAD_CORE), 'redis-server', ...args] : args,
      {
        stdio: 'ignore',
      },
    );
    for (const deadline = Date.now() + 10_000; !(await answersPing(port)); await sleep(50)) {
      if (Date.now() > deadline) throw new Error('redis-server did not start');
    }
  };
  const kill = async () => {
    if (child !== undefined) await stopChild(child, 0);
    child = undefined;
  };
  const restart = async () => {
    await kill();
    await launch();
  };
  await launch();
  return { url: `redis://127.0.0.1:${port}`, kill, restart };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => done(chunk.toString().startsWith('+PONG')));
  });
}
