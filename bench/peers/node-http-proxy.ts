import { Agent, createServer, type Server } from 'node:http';
import httpProxy from 'http-proxy';
import { REGION_HEADER, RegionRouter, type RegionUpstreams } from './region-router.js';

/** node-http-proxy as most Node gateways use it: a keep-alive agent and nothing else. */
export function createNodeHttpProxy(upstreams: RegionUpstreams): Server {
  const router = new RegionRouter(upstreams);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const proxy = httpProxy.createProxyServer({ agent });
  proxy.on('error', (_error, _req, res) => {
    if (!('writeHead' in res)) {
      res.destroy();
    } else if (res.headersSent) {
      res.destroy();
    } else {
      res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
    }
  });
  const server = createServer((req, res) => {
    proxy.web(req, res, { target: router.pick(req.headers[REGION_HEADER]) });
  });
  server.on('close', () => {
    proxy.close();
    agent.destroy();
  });
  return server;
}
