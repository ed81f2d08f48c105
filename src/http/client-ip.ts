import { BlockList, isIP } from 'node:net';

/**
 * Who is the client? Security-sensitive: a limit keyed by address is only as good as the address.
 *
 * The socket's peer is the one address nobody can forge. `x-forwarded-for` is believed only when
 * the peer is a proxy we trust, and then only as far as the chain stays trusted: walking from the
 * right (the hop nearest to us), each trusted hop vouches for the entry to its left, and the first
 * untrusted hop is the client. Anything a client writes into the header sits to the left of that
 * hop and is never reached, so a client cannot choose its own identity.
 *
 * IPv4-mapped IPv6 addresses (::ffff:1.2.3.4, what a dual-stack socket reports for an IPv4 peer)
 * are reported in their IPv4 form, so one client has one identity however it connected.
 */

const MAPPED_PREFIX = '::ffff:';

export class TrustedProxies {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** Accepts addresses and CIDRs (IPv4 or IPv6); throws naming the first entry that is neither. */
  constructor(cidrs: string[]) {
    for (const cidr of cidrs) addCidr(this.list, cidr);
    this.empty = cidrs.length === 0;
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const normal = normalizeAddress(address);
    const family = isIP(normal);
    if (family === 0) return false;
    return this.list.check(normal, family === 4 ? 'ipv4' : 'ipv6');
  }
}

function addCidr(list: BlockList, cidr: string): void {
  const slash = cidr.indexOf('/');
  // Not normalised: BlockList already matches IPv4 addresses against ::ffff:a.b.c.d/n subnets.
  const address = slash === -1 ? cidr.trim() : cidr.slice(0, slash).trim();
  const family = isIP(address);
  const maxPrefix = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(maxPrefix) : cidr.slice(slash + 1).trim();
  // Number('') is 0: a stray "10.0.0.0/" must not become "trust everyone".
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (family === 0 || !(prefix >= 0 && prefix <= maxPrefix)) {
    throw new Error(`not an address or CIDR: ${cidr}`);
  }
  list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

/** The address in the form used as a client's identity: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeAddress(address: string): string {
  if (address.length > MAPPED_PREFIX.length && isMapped(address)) {
    const embedded = address.slice(MAPPED_PREFIX.length);
    if (isIP(embedded) === 4) return embedded;
  }
  return address;
}

function isMapped(address: string): boolean {
  // Sockets report the lower-case form; only a hand-written header pays for lower-casing.
  if (address.startsWith(MAPPED_PREFIX)) return true;
  return (
    address.charCodeAt(0) === 58 && address.slice(0, MAPPED_PREFIX.length).toLowerCase() === MAPPED_PREFIX
  );
}

/**
 * The client's address: the peer itself unless the peer is trusted; then the first untrusted hop of
 * `x-forwarded-for` counted from the right. When every hop is trusted, the leftmost one. A malformed
 * entry stops the walk: what lies beyond it cannot be vouched for, so the last good address wins.
 */
export function clientAddress(
  peer: string,
  xff: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  let client = normalizeAddress(peer);
  if (xff === undefined || !trusted.has(client)) return client;
  const copies = typeof xff === 'string' ? 1 : xff.length;
  for (let v = copies - 1; v >= 0; v--) {
    const value = typeof xff === 'string' ? xff : xff[v]!;
    let end = value.length;
    for (;;) {
      const comma = end === 0 ? -1 : value.lastIndexOf(',', end - 1);
      const hop = normalizeAddress(value.slice(comma + 1, end).trim());
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!trusted.has(hop)) return client;
      if (comma === -1) break;
      end = comma;
    }
  }
  return client;
}

/**
 * The `x-forwarded-for` to send upstream. From an untrusted peer whatever it sent is replaced by
 * its address; from a trusted proxy the chain it sent is kept and the peer appended.
 */
export function forwardedFor(
  peer: string,
  xff: string | string[] | undefined,
  trusted: TrustedProxies,
): string {
  const address = normalizeAddress(peer);
  if (xff === undefined || !trusted.has(address)) return address;
  const incoming = typeof xff === 'string' ? xff : xff.join(', ');
  return incoming.trim() === '' ? address : `${incoming}, ${address}`;
}
