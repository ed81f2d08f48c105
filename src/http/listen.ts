import type { Server } from 'node:net';

/** Binds a server, rejecting on the bind error (a port in use) instead of emitting it. */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The http:// (or https://) URL of a bound address; IPv6 hosts in brackets. */
export function httpUrl(host: string, port: number, secure = false): string {
  return `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
