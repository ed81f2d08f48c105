import type { RequestContext } from '../request/context.js';

/**
 * How a trip upstream ended, for the pipeline to act on:
 * - `answered`: the upstream's answer went to the client (or the client left while it did);
 * - `cut`: nothing more can be sent: the answer broke after its headers went out (the client's
 *   connection was destroyed), or the client left before any answer;
 * - `refused`: the gateway refuses the request itself (`ctx.reason`), nothing was sent yet;
 * - `unreached`: no connection could be made, so the upstream cannot have seen the request;
 * - `failed`: the upstream failed before answering (`ctx.reason`), or answered 5xx while a kept
 *   copy exists; nothing was sent to the client yet.
 */
export type ForwardResult = 'answered' | 'cut' | 'refused' | 'unreached' | 'failed';

export interface ForwardListener {
  forwarded(ctx: RequestContext, result: ForwardResult): void;
}

const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
const UNREACHED_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A keep-alive connection the upstream closed as the request went out. */
export function isConnectionReset(err: Error): boolean {
  return RESET_CODES.has((err as { code?: string }).code ?? '');
}

/** A failure before any connection existed: the upstream cannot have seen the request. */
export function neverConnected(err: Error): boolean {
  return UNREACHED_CODES.has((err as { code?: string }).code ?? '');
}
