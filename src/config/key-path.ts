// A segment that would break the one-line `FILE: path: problem` form is quoted: a region named
// `a.b` must not read as region `a`'s key `b`.
const PLAIN_SEGMENT = /^[^\s.:"]+$/;

/** A config key path as problems name it: `regions.us-east.capacity.rps`, `regions."a.b".tls`. */
export function keyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((segment) =>
      PLAIN_SEGMENT.test(String(segment)) ? String(segment) : JSON.stringify(String(segment)),
    )
    .join('.');
}
