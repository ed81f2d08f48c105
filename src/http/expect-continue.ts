import { closeAfterAnswer, type PublicResponse } from './http2-request.js';
import type { RequestHandler } from './public-server.js';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client holds its body back until a `100
 * Continue`. Node sends that 100 at once unless the server listens for `checkContinue`; the
 * gateway listens, so the 100 goes out only when an admitted request's body is about to go
 * upstream. A request that is shed, refused or answered from a kept copy never makes its client
 * upload a body nobody will read. Such an answer closes the connection (the RFC's "indicate
 * whether it intends to close"): the client may send the body anyway or not, so the bytes that
 * follow on that connection cannot be trusted as the next request.
 */
const awaitingContinue = new WeakSet<PublicResponse>();

/** The public server's `checkContinue` listener: marks the response, then serves as usual. */
export function continueOnAdmission(onRequest: RequestHandler): RequestHandler {
  return (req, res) => {
    awaitingContinue.add(res);
    onRequest(req, res);
  };
}

/** Lets the client send its body: called when the request goes upstream (once, whatever the retries). */
export function sendContinue(res: PublicResponse): void {
  if (awaitingContinue.delete(res)) res.writeContinue();
}

/** Before an answer the gateway gives itself: the connection closes after it if the body was held back. */
export function closeIfBodyHeldBack(res: PublicResponse): void {
  if (awaitingContinue.has(res)) closeAfterAnswer(res);
}
