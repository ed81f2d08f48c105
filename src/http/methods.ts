// Methods that change nothing by RFC 9110 §9.2.2: only these are ever sent a second time, to a
// fresh connection or to another region. A request with a body is never replayed whatever its method.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}

// RFC 9110 §9.2.1: the methods that change nothing at the origin.
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export function isSafe(method: string | undefined): boolean {
  return method !== undefined && SAFE.has(method);
}
