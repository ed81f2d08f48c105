import { REFUSALS } from '../http/errors.js';

// What an access line's outcome and reason say about how its request met admission live. A
// `local` answer (max-forwards 0, OPTIONS *) never met admission, so it is not replayed through it.
export const [FORWARDED, REFUSED, ERROR, LOCAL] = [0, 1, 2, 3];

export function outcomeKind(outcome: string): number {
  if (outcome === 'shed' || outcome === 'stale') return REFUSED;
  if (outcome === 'local') return LOCAL;
  return outcome === 'error' ? ERROR : FORWARDED;
}

// The refusals of malformed or oversized input (REFUSALS' badRequest): answered before admission.
const BAD_INPUT_REASONS = new Set(
  Object.entries(REFUSALS)
    .filter(([, spec]) => spec.badRequest !== undefined)
    .map(([name]) => name),
);

/**
 * Whether an `error` line is of a request refused as bad input, before admission, whatever the
 * limits: by its reason, as the gateway logs every refusal. Other errors (a client that left, an
 * upstream that failed, a shutdown's cut) were admitted and held a slot, whatever status they end
 * with. A line with no reason (not as the gateway writes them) counts as bad input when it is a 4xx.
 */
export function refusedAsBadInput(reason: string | undefined, status: number): boolean {
  if (reason === undefined) return status >= 400 && status < 500;
  return BAD_INPUT_REASONS.has(reason);
}
