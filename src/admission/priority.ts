export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Fractions (0..1) of the token bucket and of the in-flight cap that each priority may not touch. */
export interface Reserves {
  high: number;
  normal: number;
  low: number;
}

const RANKS: Readonly<Record<Priority, number>> = { critical: 0, high: 1, normal: 2, low: 3 };

/** critical 0, high 1, normal 2, low 3: a larger rank is less important. */
export function priorityRank(p: Priority): number {
  return RANKS[p];
}

export function parsePriority(value: string | undefined): Priority | undefined {
  if (value === undefined) return undefined;
  // Well-behaved clients send the exact lower-case name; only the rest pay for trim and lower-casing.
  const exact = exactPriority(value);
  if (exact !== undefined) return exact;
  return exactPriority(value.trim().toLowerCase());
}

function exactPriority(value: string): Priority | undefined {
  switch (value) {
    case 'critical':
    case 'high':
    case 'normal':
    case 'low':
      return value;
    default:
      return undefined;
  }
}

/**
 * The priority a request runs at: the route's, unless the client asked for a lower one. A client
 * may only lower itself, so a repeated header is read as the lowest of its valid values and junk is
 * ignored rather than rejected.
 */
export function lowerOnly(routePriority: Priority, requested: string | string[] | undefined): Priority {
  if (requested === undefined) return routePriority;
  if (typeof requested === 'string') return lowerOfList(routePriority, requested);
  let result = routePriority;
  for (const value of requested) result = lowerOfList(result, value);
  return result;
}

// Node joins a repeated unknown header into one comma-separated string.
function lowerOfList(current: Priority, value: string): Priority {
  const single = parsePriority(value);
  if (single !== undefined || value.indexOf(',') === -1) return lowerOf(current, single);
  for (const part of value.split(',')) current = lowerOf(current, parsePriority(part));
  return current;
}

function lowerOf(current: Priority, requested: Priority | undefined): Priority {
  return requested !== undefined && RANKS[requested] > RANKS[current] ? requested : current;
}

/** The share of a shared resource kept back from this priority; critical may use everything. */
export function reserveFraction(p: Priority, reserves: Reserves): number {
  switch (p) {
    case 'critical':
      return 0;
    case 'high':
      return reserves.high;
    case 'normal':
      return reserves.normal;
    case 'low':
      return reserves.low;
  }
}
