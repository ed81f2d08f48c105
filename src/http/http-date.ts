let second = -1;
let text = '';

/**
 * The current time as an HTTP-date (RFC 9110 §5.6.7), for answers written without Node's help,
 * which adds one to its own. Rebuilt once a second, as Node's is, so a flood of refusals costs a
 * clock read each.
 */
export function httpDate(): string {
  const now = Math.floor(Date.now() / 1000);
  if (now !== second) {
    second = now;
    text = new Date(now * 1000).toUTCString();
  }
  return text;
}
