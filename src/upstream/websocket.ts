import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { writeRefusalToSocket } from '../http/errors.js';
import type { Region } from '../region.js';
import type { BreakerCall } from './breaker.js';

const kTunnel = Symbol('floodgate.tunnel');

interface TunnelState {
  region: Region;
  call: BreakerCall;
  client: Duplex;
  settled: boolean;
}

type TaggedRequest = IncomingMessage & { [kTunnel]?: TunnelState };

/**
 * WebSocket upgrades, tunnelled by http-proxy to the region the gateway chose. The in-flight slot
 * and breaker call are held for the handshake only: a tunnel that lives for hours must not hold a
 * slot that short requests need. An error or reset on either side closes both sockets.
 */
export class WebSocketTunnels {
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  // Upgraded sockets leave the HTTP server's connection tracking, so shutdown needs them listed here.
  private readonly open = new Set<Duplex>();

  constructor(private readonly logger: Logger) {
    this.proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => {
      const state = (req as TaggedRequest)[kTunnel]!;
      // http-proxy sets no timeout of its own: a hung upstream must fail the handshake in time.
      proxyReq.setTimeout(state.region.config.timeoutMs, () =>
        proxyReq.destroy(Object.assign(new Error('no handshake answer in time'), { code: 'ETIMEDOUT' })),
      );
      proxyReq.once('upgrade', (res: IncomingMessage, upstream: Duplex) => {
        res.headers['x-floodgate-region'] = state.region.name;
        settle(req as TaggedRequest, 'ok');
        bindLifetimes(state.client, upstream);
      });
      proxyReq.once('response', (res: IncomingMessage) => {
        res.headers['x-floodgate-region'] = state.region.name;
        settle(req as TaggedRequest, res.statusCode! < 500 ? 'ok' : 'failed');
      });
    });
  }

  /** Tunnels an admitted upgrade to one of the region's upstreams. */
  tunnel(req: IncomingMessage, socket: Duplex, head: Buffer, region: Region, call: BreakerCall): void {
    const tagged = req as TaggedRequest;
    tagged[kTunnel] = { region, call, client: socket, settled: false };
    this.open.add(socket);
    socket.on('error', destroyQuietly);
    socket.once('close', () => {
      this.open.delete(socket);
      settle(tagged, 'cancelled');
    });
    const target = region.upstreams.hosts[region.upstreams.pick()]!.url;
    this.proxy.ws(req, socket, head, { target }, (err: NodeJS.ErrnoException) => {
      this.logger.warn({ event: 'websocket-error', region: region.name, err: err.message });
      const answered = tagged[kTunnel]!.settled;
      settle(tagged, 'failed');
      // Before the handshake was answered the client still gets an HTTP answer, like any request.
      if (answered || !socket.writable) socket.destroy();
      else
        writeRefusalToSocket(
          socket,
          err.code === 'ETIMEDOUT' ? 'upstream-timeout' : 'upstream-unreachable',
          region.refusals,
          0,
        );
    });
  }

  /** Closes every tunnel still open (at the end of a shutdown's grace period). */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.proxy.close();
  }
}

function settle(req: TaggedRequest, outcome: 'ok' | 'failed' | 'cancelled'): void {
  const state = req[kTunnel];
  if (state === undefined || state.settled) return;
  state.settled = true;
  if (outcome === 'ok') state.call.succeed();
  else if (outcome === 'failed') state.call.fail();
  else state.call.cancel();
  state.region.admission.release();
}

/**
 * A tunnel lives as long as both of its sockets: the end or loss of either closes the other. The
 * HTTP server's sockets allow half-open connections, which would otherwise keep a tunnel whose
 * client has gone alive until the upstream hangs up.
 */
function bindLifetimes(client: Duplex, upstream: Duplex): void {
  upstream.on('error', destroyQuietly);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const side of [client, upstream]) {
    side.once('end', closeBoth);
    side.once('close', closeBoth);
  }
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}
