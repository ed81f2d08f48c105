/** JSON numbers read from bytes, exactly as JSON.parse reads them. */

const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

/**
 * Where the plain decimal at `i` ends (`12`, `-3.25`: no exponent, no leading zero); -1 when the
 * bytes there are not one. What follows is not looked at: the caller checks its separator.
 */
export function plainNumberEnd(b: Uint8Array, i: number, end: number): number {
  let j = b[i] === MINUS ? i + 1 : i;
  const first = j;
  while (j < end && isDigit(b[j]!)) j++;
  if (j === first || (b[first] === ZERO && j > first + 1)) return -1;
  if (j < end && b[j] === DOT) {
    const fraction = ++j;
    while (j < end && isDigit(b[j]!)) j++;
    if (j === fraction) return -1;
  }
  return j;
}

/** A number the scan has checked is `-?digits(.digits)?`: by hand up to fifteen digits, else through Number. */
export function decimal(b: Buffer, start: number, end: number): number {
  let i = start;
  const negative = b[i] === MINUS;
  if (negative) i++;
  let whole = 0;
  const wholeStart = i;
  for (; i < end && isDigit(b[i]!); i++) whole = whole * 10 + b[i]! - ZERO;
  const digits = i - wholeStart;
  let fraction = 0;
  let scale = 1;
  if (i < end && b[i] === DOT) {
    for (i++; i < end && isDigit(b[i]!); i++) {
      fraction = fraction * 10 + b[i]! - ZERO;
      scale *= 10;
    }
  }
  // All digits as one integer over a power of ten: both exact in a double, so the one division is
  // rounded once, as Number() would. Past 2^53 the integer is not exact: the slow road.
  const scaled = whole * scale + fraction;
  if (digits > 15 || scale > 1e6 || scaled > Number.MAX_SAFE_INTEGER)
    return Number(b.toString('latin1', start, end));
  const value = scaled / scale;
  return negative ? -value : value;
}

export function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}
