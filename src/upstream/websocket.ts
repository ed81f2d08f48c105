import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent } from 'node:https';
import { isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { handshakeAnswerHeaders } from '../http/hop-by-hop.js';
import { httpDate } from '../http/http-date.js';
import type { RequestContext } from '../request/context.js';
import type { Permit } from '../request/permit.js';
import type { ForwardListener } from './forward-result.js';
import type { UpstreamTls } from './pools.js';

const kTunnel = Symbol('floodgate.tunnel');

interface TunnelState {
  ctx: RequestContext;
  /** Held for the handshake only; undefined once settled. */
  permit: Permit | undefined;
  listener: ForwardListener;
  /** The handshake request upstream, while it is under way. */
  upstreamRequest: ClientRequest | undefined;
}

type TaggedRequest = IncomingMessage & { [kTunnel]?: TunnelState };

/**
 * WebSocket upgrades, tunnelled by http-proxy to the region the gateway chose. The in-flight slot
 * and breaker call are held for the handshake only: a tunnel that lives for hours must not hold a
 * slot that short requests need. The handshake's outcome (an upstream answer, or a failure before
 * one) is reported to the pipeline once it is known, like a forwarded request's. An error or reset
 * on either side of an open tunnel closes both sockets.
 */
export class WebSocketTunnels {
  private readonly proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  // Upgraded sockets leave the HTTP server's connection tracking, so shutdown needs them listed
  // here, from the moment the handshake arrives: one may wait for its paced turn first.
  private readonly open = new Set<Duplex>();
  private closing = false;

  constructor(private readonly logger: Logger) {
    this.proxy.on('proxyReqWs', (proxyReq: ClientRequest, req: IncomingMessage) => {
      const state = (req as TaggedRequest)[kTunnel]!;
      state.upstreamRequest = proxyReq;
      // http-proxy sets no timeout of its own: a hung upstream must fail the handshake in time. Not
      // the socket's idle timer, which an upstream trickling its answer a byte at a time resets.
      const deadline = setTimeout(timedOut, state.ctx.region.config.timeoutMs, proxyReq);
      proxyReq.once('close', () => clearTimeout(deadline));
      proxyReq.once('upgrade', (res: IncomingMessage, upstream: Duplex) => {
        clearTimeout(deadline);
        // A client that left during the handshake has no tunnel to join.
        if (state.ctx.socket.destroyed) {
          upstream.destroy();
          return;
        }
        answered(state, res, true);
        bindLifetimes(state.ctx.socket, upstream);
      });
      proxyReq.once('response', (res: IncomingMessage) => {
        clearTimeout(deadline);
        // Its body has the time between chunks any answer has: an upstream that stalls in it is cut.
        proxyReq.setTimeout(state.ctx.region.config.timeoutMs, () => timedOut(proxyReq));
        answered(state, res, false);
        res.once('close', () => {
          if (!res.complete) cutShort(state.ctx.socket);
        });
      });
    });
  }

  /** Sockets listed and not yet closed: handshakes, tunnels, and declined upgrades served on them. */
  get openSockets(): number {
    return this.open.size;
  }

  /** Lists an upgrade's socket for shutdown as it arrives; false (and closed) once shutdown has cut tunnels. */
  track(socket: Duplex): boolean {
    if (this.closing) {
      socket.destroy();
      return false;
    }
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    return true;
  }

  /** Tunnels an admitted upgrade (its socket tracked) to one of the permit region's upstreams. */
  tunnel(ctx: RequestContext, permit: Permit, head: Buffer, listener: ForwardListener): void {
    const state: TunnelState = { ctx, permit, listener, upstreamRequest: undefined };
    (ctx.req as TaggedRequest)[kTunnel] = state;
    const socket = ctx.socket;
    socket.on('error', destroyQuietly);
    socket.once('close', () => {
      if (state.permit === undefined) return;
      // The client left before the handshake was answered: the upstream must not keep a socket for it.
      state.upstreamRequest?.destroy();
      ctx.status = 499;
      ctx.reason = 'client-closed';
      end(state, 'neutral', 'cut');
    });
    const options = tunnelOptions(permit.pickHost().url, permit.region.upstreams.tls);
    // Upgrades arrive over HTTP/1.1 only: HTTP/2 has none (RFC 9113 §8.6).
    this.proxy.ws(ctx.req as IncomingMessage, socket, head, options, (err: NodeJS.ErrnoException) => {
      this.logger.warn({ event: 'websocket-error', region: ctx.region.name, err: err.message });
      if (state.permit === undefined || !socket.writable) {
        // After the handshake the only honest move is to close the tunnel.
        socket.destroy();
        return;
      }
      ctx.reason = err.code === 'ETIMEDOUT' ? 'upstream-timeout' : 'upstream-unreachable';
      end(state, 'failed', 'failed');
    });
  }

  /** Closes every tunnel still open (at the end of a shutdown's grace period). */
  closeAll(): void {
    this.closing = true;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    this.proxy.close();
  }
}

/**
 * Settles the handshake on the upstream's answer. These listeners run before http-proxy's own (it
 * adds them after emitting proxyReqWs), which write `res.headers` to the client as they are then.
 */
function answered(state: TunnelState, res: IncomingMessage, switched: boolean): void {
  const { ctx } = state;
  res.headers = {
    // A response passed on without a Date gets one (RFC 9110 §6.6.1), as node:http adds elsewhere.
    date: httpDate(),
    ...handshakeAnswerHeaders(res.headers, switched),
    'x-floodgate-region': ctx.region.name,
    'x-request-id': ctx.requestId,
  };
  ctx.status = res.statusCode!;
  ctx.upstream = state.permit?.host?.url;
  ctx.region.metrics.upstreamResponse(res.statusCode!);
  end(state, res.statusCode! < 500 ? 'ok' : 'failed', 'answered');
}

function timedOut(proxyReq: ClientRequest): void {
  proxyReq.destroy(Object.assign(new Error('no handshake answer in time'), { code: 'ETIMEDOUT' }));
}

function end(
  state: TunnelState,
  verdict: 'ok' | 'failed' | 'neutral',
  result: 'answered' | 'cut' | 'failed',
): void {
  const permit = state.permit;
  if (permit === undefined) return;
  state.permit = undefined;
  permit.settle(verdict);
  state.listener.forwarded(state.ctx, result);
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

/**
 * Ends a client connection whose answer broke off. Without a content-length, http-proxy's answer is
 * delimited by the connection's end, so a clean close would make a short body look complete: a TCP
 * reset tells the client it is not. Node cannot reset a TLS socket: that one is only destroyed.
 */
function cutShort(socket: Duplex): void {
  if (socket instanceof Socket && !(socket instanceof TLSSocket)) socket.resetAndDestroy();
  else socket.destroy();
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}

/**
 * The tunnel's options for http-proxy, with the region's TLS for an https upstream as its pools
 * have it (pools.ts). http-proxy passes on no servername, and Node would take one from the Host
 * header (the client's, here), so all of it goes in an agent's options, which Node puts over the
 * request's own when it calls tls.connect: the configured servername, else the URL's host name
 * (none for an address, which the certificate is then checked against), as undici does.
 */
function tunnelOptions(target: string, tls: UpstreamTls | undefined): httpProxy.ServerOptions {
  if (tls === undefined || !target.startsWith('https:')) return { target };
  const host = new URL(target).hostname.replace(/^\[(.*)\]$/, '$1');
  const servername = tls.servername ?? (isIP(host) === 0 ? host : '');
  // A handshake is rare next to requests: an agent of its own costs less than keeping one per host.
  const agent = new Agent({ servername, ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized });
  return { target, agent, secure: tls.rejectUnauthorized };
}
