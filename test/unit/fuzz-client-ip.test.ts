import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientAddress, forwardedFor, normalizeAddress, TrustedProxies } from '../../src/http/client-ip.js';
import { failOnStrayErrors } from '../support/fail-on-stray-errors.js';

const trusted = new TrustedProxies(['10.0.0.0/8', '2001:db8::/32']);

const trustedV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`);
const trustedV6 = fc.ipV6().map((ip) => `2001:db8::${ip.split(':').pop() || '1'}`);
const trustedAddress = fc.oneof(
  trustedV4,
  trustedV4.map((ip) => `::ffff:${ip}`),
  trustedV6,
);

const untrustedAddress = fc
  .oneof(
    fc.ipV4(),
    fc.ipV4().map((ip) => `::ffff:${ip}`),
    fc.ipV4().map((ip) => `::FFFF:${ip}`),
    fc.ipV6(),
  )
  .filter((ip) => !trusted.has(ip));

/** What a client may write into x-forwarded-for: addresses (trusted ones too), garbage and separators. */
const forgedEntry = fc.oneof(
  untrustedAddress,
  trustedAddress,
  fc.constantFrom('', ' ', 'unknown', '127.0.0.1:80', '[::1]', '1.2.3.4.5', '::ffff:', ',,'),
  fc.string({ unit: 'binary-ascii', maxLength: 20 }),
);
const padding = fc.constantFrom('', ' ', '  ', '\t');

/** Joins entries into header copies split at random entry boundaries, as a string when there is one copy. */
function headerCopies(entries: string[], pads: string[], cuts: boolean[]): string | string[] {
  const copies: string[] = [];
  let current: string[] = [];
  entries.forEach((entry, i) => {
    current.push(`${pads[i % pads.length] ?? ''}${entry}${pads[(i + 1) % pads.length] ?? ''}`);
    if (cuts[i % cuts.length] && i < entries.length - 1) {
      copies.push(current.join(','));
      current = [];
    }
  });
  copies.push(current.join(','));
  return copies.length === 1 ? copies[0]! : copies;
}

const xffHeader = fc
  .tuple(
    fc.array(forgedEntry, { maxLength: 6 }),
    fc.array(padding, { minLength: 1, maxLength: 4 }),
    fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
  )
  .map(([entries, pads, cuts]) => headerCopies(entries, pads, cuts));
const anyXff = fc.oneof(fc.constant(undefined), xffHeader);

describe('client identity under forged x-forwarded-for', () => {
  failOnStrayErrors();

  // From an untrusted peer, nothing in x-forwarded-for changes the identity or the header sent upstream.
  it('ignores x-forwarded-for from an untrusted peer', () => {
    fc.assert(
      fc.property(untrustedAddress, anyXff, (peer, xff) => {
        expect(clientAddress(peer, xff, trusted)).toBe(normalizeAddress(peer));
        expect(forwardedFor(peer, xff, trusted)).toBe(normalizeAddress(peer));
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  // Behind trusted proxies the client is the first untrusted hop from the right, whatever it forged to its left.
  it('finds the real client behind a chain of trusted proxies', () => {
    fc.assert(
      fc.property(
        trustedAddress,
        fc.array(forgedEntry, { maxLength: 5 }),
        untrustedAddress,
        fc.array(trustedAddress, { maxLength: 3 }),
        fc.array(padding, { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        (peer, forged, client, proxies, pads, cuts) => {
          const xff = headerCopies([...forged, client, ...proxies], pads, cuts);
          expect(clientAddress(peer, xff, trusted)).toBe(normalizeAddress(client));
        },
      ),
      { numRuns: 2000 },
    );
  }, 60_000);

  // The identity is always the peer or one of the header's own entries: nothing is invented.
  it('never invents an address', () => {
    fc.assert(
      fc.property(fc.oneof(trustedAddress, untrustedAddress), anyXff, (peer, xff) => {
        const entries = [xff ?? []].flat().flatMap((copy) => copy.split(','));
        const candidates = [peer, ...entries].map((entry) => normalizeAddress(entry.trim()));
        expect(candidates).toContain(clientAddress(peer, xff, trusted));
      }),
      { numRuns: 2000 },
    );
  }, 60_000);

  // A trusted proxy's chain is kept and the proxy's own address is appended last.
  it('appends the trusted peer to the chain it sent', () => {
    fc.assert(
      fc.property(trustedAddress, xffHeader, (peer, xff) => {
        const sent = forwardedFor(peer, xff, trusted);
        const incoming = typeof xff === 'string' ? xff : xff.join(', ');
        const expected =
          incoming.trim() === '' ? normalizeAddress(peer) : `${incoming}, ${normalizeAddress(peer)}`;
        expect(sent).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);
});
