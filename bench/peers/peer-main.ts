/**
 * Child process that runs one Node peer on its own core: `peer-main.js KIND UPSTREAMS_JSON`.
 * Reports its URL over IPC and exits when the parent goes away.
 */
import type { Server } from 'node:http';
import { createBare429Server } from './bare-429.js';
import { createNodeHttpProxy } from './node-http-proxy.js';
import type { RegionUpstreams } from './region-router.js';
import { createUndiciProxy } from './undici-proxy.js';

export type NodePeerKind = 'undici' | 'http-proxy' | 'bare-429';

function createPeer(kind: string, upstreams: RegionUpstreams): Server {
  switch (kind) {
    case 'undici':
      return createUndiciProxy(upstreams);
    case 'http-proxy':
      return createNodeHttpProxy(upstreams);
    case 'bare-429':
      return createBare429Server();
    default:
      throw new Error(`unknown peer ${kind}`);
  }
}

const server = createPeer(process.argv[2] ?? '', JSON.parse(process.argv[3] ?? '{}') as RegionUpstreams);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  process.send?.({ url: `http://127.0.0.1:${port}` });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
