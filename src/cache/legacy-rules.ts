/**
 * @deprecated The response-only check of the request path before issue 12, which cannot see the
 * request (so neither Authorization, Host, Vary nor request directives). Delete with
 * `StaleCache.cacheable`, `capture`, `get` and `set` once forward.ts and gateway.ts call
 * `captureFor` and `lookup`.
 */
export function legacyCacheable(
  status: number,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  if (status !== 200) return false;
  if (headers['set-cookie'] !== undefined) return false;
  if (hasToken(headers.vary, '*')) return false;
  const cacheControl = headers['cache-control'];
  return !hasToken(cacheControl, 'no-store') && !hasToken(cacheControl, 'private');
}

/** Whether a comma-separated header holds `token` as a directive name (case-insensitive). */
function hasToken(value: string | string[] | undefined, token: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'string') return value.some((item) => hasToken(item, token));
  const haystack = value.toLowerCase();
  let from = haystack.indexOf(token);
  while (from !== -1) {
    const end = from + token.length;
    if (isDirectiveBoundary(haystack, from - 1, true) && isDirectiveBoundary(haystack, end, false))
      return true;
    from = haystack.indexOf(token, end);
  }
  return false;
}

function isDirectiveBoundary(text: string, index: number, before: boolean): boolean {
  if (index < 0 || index >= text.length) return true;
  const char = text[index];
  if (char === ',' || char === ' ' || char === '\t') return true;
  // `private="set-cookie"`: the name ends where its argument begins.
  return !before && char === '=';
}
