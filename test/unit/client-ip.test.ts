import { describe, expect, it } from 'vitest';
import { clientAddress, forwardedFor, normalizeAddress, TrustedProxies } from '../../src/http/client-ip.js';

const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.1', '2001:db8::/32', '::1']);

describe('TrustedProxies', () => {
  it.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['::ffff:10.1.2.3', true],
    ['::FFFF:10.1.2.3', true],
    ['192.168.1.1', true],
    ['192.168.1.2', false],
    ['2001:db8::5', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['127.0.0.1', false],
    ['garbage', false],
    ['', false],
  ])('has(%j) is %s', (address, expected) => {
    // Subnets and single addresses match for IPv4, IPv6 and IPv4-mapped IPv6.
    expect(trusted.has(address)).toBe(expected);
  });

  it('matches IPv4 peers against an IPv4-mapped subnet', () => {
    // A CIDR written in mapped form covers the plain IPv4 addresses too.
    const mapped = new TrustedProxies(['::ffff:172.16.0.0/108']);
    expect(mapped.has('172.16.5.5')).toBe(true);
    expect(mapped.has('::ffff:172.16.5.5')).toBe(true);
    expect(mapped.has('172.32.0.1')).toBe(false);
  });

  it('trusts no one when the list is empty', () => {
    // The default configuration believes no x-forwarded-for at all.
    expect(new TrustedProxies([]).has('127.0.0.1')).toBe(false);
  });

  it.each(['nope', '10.0.0.0/33', '::/129', '10.0.0.0/x', '10.0.0.0/', '10.0.0.0/8.5'])(
    'rejects %j',
    (cidr) => {
      // A bad entry is an error naming it, never silently ignored.
      expect(() => new TrustedProxies([cidr])).toThrow(cidr);
    },
  );
});

describe('normalizeAddress', () => {
  it.each([
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:1.2.3.4', '1.2.3.4'],
    ['1.2.3.4', '1.2.3.4'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:', '::ffff:'],
    ['::ffff:junk', '::ffff:junk'],
  ])('%j becomes %j', (address, expected) => {
    // Only a real IPv4-mapped address loses its prefix.
    expect(normalizeAddress(address)).toBe(expected);
  });
});

describe('clientAddress', () => {
  it.each<[string, string, string | string[] | undefined, string]>([
    ['untrusted peer without header', '203.0.113.9', undefined, '203.0.113.9'],
    ['spoofed header from an untrusted peer', '203.0.113.9', '1.1.1.1', '203.0.113.9'],
    ['untrusted peer claiming a trusted hop', '203.0.113.9', '10.0.0.1', '203.0.113.9'],
    ['trusted peer, one hop', '10.0.0.2', '198.51.100.7', '198.51.100.7'],
    ['client-written entry left of the real client', '10.0.0.2', '1.1.1.1, 198.51.100.7', '198.51.100.7'],
    ['trusted hops are skipped', '10.0.0.2', '198.51.100.7, 10.0.0.5', '198.51.100.7'],
    ['all hops trusted: the leftmost', '10.0.0.2', '10.0.0.7, 10.0.0.5', '10.0.0.7'],
    ['junk left of the client is never reached', '10.0.0.2', 'garbage, 198.51.100.7', '198.51.100.7'],
    ['junk next to us: the peer', '10.0.0.2', '198.51.100.7, garbage', '10.0.0.2'],
    ['junk after a trusted hop: that hop', '10.0.0.2', '198.51.100.7, garbage, 10.0.0.5', '10.0.0.5'],
    ['empty header: the peer', '10.0.0.2', '', '10.0.0.2'],
    ['empty entry stops the walk', '10.0.0.2', '198.51.100.7, , 10.0.0.5', '10.0.0.5'],
    ['leading comma', '10.0.0.2', ',198.51.100.7', '198.51.100.7'],
    ['address with a port is malformed', '10.0.0.2', '198.51.100.7:5555', '10.0.0.2'],
    ['the word unknown is malformed', '10.0.0.2', 'unknown', '10.0.0.2'],
    ['surrounding spaces', '10.0.0.2', '  198.51.100.7 ,10.0.0.5 ', '198.51.100.7'],
    [
      'repeated header: spoof in the first copy',
      '10.0.0.2',
      ['1.1.1.1', '198.51.100.7, 10.0.0.5'],
      '198.51.100.7',
    ],
    ['repeated header: hops across copies', '10.0.0.2', ['198.51.100.7', '10.0.0.5'], '198.51.100.7'],
    ['repeated header: empty list', '10.0.0.2', [], '10.0.0.2'],
    ['mapped trusted peer', '::ffff:10.0.0.2', '198.51.100.7', '198.51.100.7'],
    ['mapped untrusted peer', '::ffff:203.0.113.9', '1.1.1.1', '203.0.113.9'],
    ['mapped client entry', '10.0.0.2', '::ffff:198.51.100.7', '198.51.100.7'],
    ['IPv6 trusted peer', '2001:db8::1', '2001:db9::42', '2001:db9::42'],
    ['IPv6 untrusted peer with spoof', '2001:db9::42', '1.2.3.4', '2001:db9::42'],
    ['IPv6 hops mixed with IPv4', '::1', '2001:db9::42, 2001:db8::9, 10.9.9.9', '2001:db9::42'],
  ])('%s', (_name, peer, xff, expected) => {
    // The client is the first untrusted hop from the right, and never something an untrusted peer wrote.
    expect(clientAddress(peer, xff, trusted)).toBe(expected);
  });

  it('cannot be steered by any header from an untrusted peer', () => {
    // Whatever an untrusted client sends, its identity is its socket address.
    for (const xff of ['10.0.0.1', '1.1.1.1, 10.0.0.1', '::1', 'x', ['1.1.1.1', '2.2.2.2']]) {
      expect(clientAddress('203.0.113.9', xff, trusted)).toBe('203.0.113.9');
    }
  });
});

describe('forwardedFor', () => {
  it.each<[string, string, string | string[] | undefined, string]>([
    ['untrusted peer replaces the header', '203.0.113.9', '1.1.1.1', '203.0.113.9'],
    ['untrusted peer without header', '203.0.113.9', undefined, '203.0.113.9'],
    ['trusted peer without header', '10.0.0.2', undefined, '10.0.0.2'],
    ['trusted peer appends itself', '10.0.0.2', '198.51.100.7', '198.51.100.7, 10.0.0.2'],
    [
      'trusted peer keeps the whole chain',
      '10.0.0.2',
      '1.1.1.1, 198.51.100.7',
      '1.1.1.1, 198.51.100.7, 10.0.0.2',
    ],
    ['repeated header is joined', '10.0.0.2', ['1.1.1.1', '2.2.2.2'], '1.1.1.1, 2.2.2.2, 10.0.0.2'],
    ['empty header from a trusted peer', '10.0.0.2', ' ', '10.0.0.2'],
    ['mapped untrusted peer', '::ffff:203.0.113.9', '1.1.1.1', '203.0.113.9'],
    ['IPv6 trusted peer', '2001:db8::1', '198.51.100.7', '198.51.100.7, 2001:db8::1'],
  ])('%s', (_name, peer, xff, expected) => {
    // Upstreams see the peer appended to a trusted chain, or only the peer.
    expect(forwardedFor(peer, xff, trusted)).toBe(expected);
  });
});
