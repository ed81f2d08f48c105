import type { PublicResponse } from './http2-request.js';
import type { RequestHandler } from './public-server.js';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client holds its body back until a `100
 * Continue`. Node sends that 100 at once unless the server listens for `checkContinue`; the
 * gateway listens, so the 100 goes out only when an admitted request's body is about to go
 * upstream. A request that is shed, refused or answered from a kept copy never makes its client
 * upload a body nobody will read. Node itself closes the connection after such an answer (the
 * RFC's "indicate whether it intends to close"): the client may send the body anyway or not, so
 * the bytes that follow on that connection cannot be trusted as the next request.
 */
const awaitingContinue = new WeakSet<PublicResponse>();

const CONTINUE = /^\s*100-continue\s*$/i;

/**
 * The public server's `request`, `checkContinue` and `checkExpectation` listeners. Node's HTTP/2
 * side compares `100-continue` case-sensitively, where RFC 9110 §10.1.1 says it is not, so an
 * "unknown" expectation is checked again here; any other one is refused by `expectationProblem`.
 */
export function requestListeners(onRequest: RequestHandler): Record<string, RequestHandler> {
  const continueOnAdmission: RequestHandler = (req, res) => {
    awaitingContinue.add(res);
    onRequest(req, res);
  };
  return {
    request: onRequest,
    checkContinue: continueOnAdmission,
    checkExpectation: (req, res) =>
      (CONTINUE.test(req.headers.expect ?? '') ? continueOnAdmission : onRequest)(req, res),
  };
}

/** `417` for an expectation the gateway cannot meet: anything but `100-continue` (RFC 9110 §10.1.1). */
export function expectationProblem(expect: string | undefined): 'expectation-failed' | undefined {
  return expect === undefined || CONTINUE.test(expect) ? undefined : 'expectation-failed';
}

/** Lets the client send its body: called when the request goes upstream (once, whatever the retries). */
export function sendContinue(res: PublicResponse): void {
  if (awaitingContinue.delete(res)) res.writeContinue();
}
