import { randomBytes } from 'node:crypto';

// A process prefix from the system's randomness plus a counter: unique across instances and
// restarts without a random draw per request.
const PREFIX = `${randomBytes(6).toString('hex')}-`;
const MAX_LENGTH = 128;
let counter = 0;

/**
 * The request's id: the client's `x-request-id` when it is 1 to 128 visible ASCII characters
 * (contract §3), so a trace started in front of the gateway carries through it; otherwise a new one.
 */
export function requestIdFor(sent: string | string[] | undefined): string {
  if (typeof sent === 'string' && isValidRequestId(sent)) return sent;
  counter++;
  return PREFIX + counter.toString(36);
}

export function isValidRequestId(value: string): boolean {
  const length = value.length;
  if (length === 0 || length > MAX_LENGTH) return false;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}
