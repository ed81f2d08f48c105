import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from './gateway.js';
import { REFUSALS, sendRefusal, writeRefusalToSocket } from './http/errors.js';
import { requestProblem } from './http/request-checks.js';
import type { GatewayMetrics } from './observability/metrics.js';

export interface ScreenedHandlers {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Interim, until the request path calls `requestProblem` itself as its first step (issue 12):
 * refuses malformed and oversized requests in front of the gateway's listeners, the way that step
 * will: before admission, with the home region's refusal body and `x-floodgate-region`, an access
 * line (outcome `error`), and a count in `floodgate_bad_requests_total`.
 */
export function screenBadRequests(gateway: Gateway, metrics: GatewayMetrics): ScreenedHandlers {
  const refused = (req: IncomingMessage, to: ServerResponse | Duplex): boolean => {
    const rt = gateway.runtime;
    const refusal = requestProblem(req, rt.maxBodyBytes);
    if (refusal === undefined) return false;
    const startedAt = gateway.clock();
    const region = rt.regionFor(req.headers[rt.regionHeader]);
    const spec = REFUSALS[refusal];
    metrics.countBadRequest(spec.badRequest!);
    if (to instanceof ServerResponse) sendRefusal(to, refusal, region.refusals, 0);
    else {
      to.on('error', () => to.destroy());
      writeRefusalToSocket(to, refusal, region.refusals, 0);
    }
    gateway.record(region, 'error', spec.status, 'normal', req, startedAt);
    return true;
  };
  return {
    handleRequest(req, res) {
      if (!refused(req, res)) gateway.handleRequest(req, res);
    },
    handleUpgrade(req, socket, head) {
      if (!refused(req, socket)) gateway.handleUpgrade(req, socket, head);
    },
  };
}
