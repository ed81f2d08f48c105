import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamPath } from '../../src/routing/route-table.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';

// Request targets as a hostile client writes them: the characters that matter to URL parsing,
// weighted so that slashes, dots, percent escapes and scheme fragments meet often.
const TARGET_PIECES = [
  '/',
  '//',
  '\\',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%5c',
  '?',
  '#',
  '@',
  ':',
  'http:',
  'https:',
  'HTTP://',
  'evil.example',
  '127.0.0.1:80',
  'a',
  ' ',
  '\t',
  '\u00e9',
];
const targetText = fc.oneof(
  fc.array(fc.constantFrom(...TARGET_PIECES), { maxLength: 12 }).map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** An authority as a client might forge one: no `/`, `?` or `#`, anything else goes. */
const authority = fc.string({ maxLength: 30 }).map((s) => s.replace(/[/?#]/g, ''));
const scheme = fc.constantFrom('http', 'https', 'HTTP', 'Https');

describe('upstreamPath under arbitrary request targets', () => {
  failOnStrayErrors();

  // Whatever the target, the result is refused (undefined) or a path that begins with "/", never a scheme.
  it('yields undefined or a path starting with "/"', () => {
    fc.assert(
      fc.property(targetText, (target) => {
        const path = upstreamPath(target);
        if (path === undefined) return;
        expect(path.charCodeAt(0)).toBe(47);
        expect(path).not.toMatch(/^[a-z][a-z0-9+.-]*:/i);
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  // An origin-form target is forwarded byte for byte: the gateway never resolves dots or slashes.
  // One with a fragment is refused: no request-target has one (RFC 9112 §3.2).
  it('passes origin-form targets through verbatim, refusing a fragment', () => {
    fc.assert(
      fc.property(targetText, (rest) => {
        const target = `/${rest}`;
        expect(upstreamPath(target)).toBe(target.includes('#') ? undefined : target);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  // An absolute-form target loses its scheme and authority; what is left is its own path and query.
  it('drops the scheme and authority of an absolute-form target', () => {
    fc.assert(
      fc.property(scheme, authority, targetText, (s, host, rest) => {
        const path = upstreamPath(`${s}://${host}${rest}`);
        const expected = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
        // A rest that begins with "/" cannot extend the authority, which ends at the first "/".
        if (rest.includes('#')) expect(path).toBeUndefined();
        else if (rest === '' || /^[/?]/.test(rest)) expect(path).toBe(expected);
        else expect(path === undefined || path.startsWith('/')).toBe(true);
        if (path !== undefined && host !== '' && !rest.includes(host)) expect(path).not.toContain(host);
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  // Anything that is neither origin-form nor http(s) absolute-form (`*`, authority-form, other schemes) is refused.
  it('refuses every other target form', () => {
    fc.assert(
      fc.property(targetText, (target) => {
        fc.pre(!target.startsWith('/') && !/^https?:\/\//i.test(target));
        expect(upstreamPath(target)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  }, 60_000);
});
