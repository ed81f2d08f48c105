import { fileURLToPath } from 'node:url';
import { OutputTail, PROXY_CORE, spawnOnCore, stopChild } from '../processes.js';
import type { NodePeerKind } from './peer-main.js';
import type { RegionUpstreams } from './region-router.js';

export interface RunningPeer {
  readonly name: string;
  readonly url: string;
  /** The process serving it, for CPU accounting. */
  readonly pid?: number;
  close(): Promise<void>;
}

const PEER_SCRIPT = fileURLToPath(new URL('./peer-main.js', import.meta.url));

export function startUndiciProxy(upstreams: RegionUpstreams): Promise<RunningPeer> {
  return startNodePeer('undici', 'undici proxy', upstreams);
}

export function startHttpProxy(upstreams: RegionUpstreams): Promise<RunningPeer> {
  return startNodePeer('http-proxy', 'node-http-proxy', upstreams);
}

export function startBare429(): Promise<RunningPeer> {
  return startNodePeer('bare-429', 'bare node:http 429', {});
}

async function startNodePeer(
  kind: NodePeerKind,
  name: string,
  upstreams: RegionUpstreams,
): Promise<RunningPeer> {
  const child = spawnOnCore(PROXY_CORE, process.execPath, [PEER_SCRIPT, kind, JSON.stringify(upstreams)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const tail = new OutputTail();
  child.stderr?.on('data', (chunk: Buffer) => tail.append(chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited (${code}): ${tail}`));
    child.once('exit', onExit);
    child.once('message', (message: { url: string }) => {
      child.off('exit', onExit);
      resolve(message.url);
    });
  });
  return {
    name,
    url,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    close: () => stopChild(child, 2000),
  };
}
