import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, type GatewayConfig, parseConfigText } from '../../src/config/load.js';
import { makeCertificates, opensslAvailable, type TestCertificates } from '../support/certificates.js';

// listen.tls, regions.*.tls and drainDelayMs: defaults, and every file problem named on one line.

function configWith(dir: string, extra: { listen?: object; tls?: object; upstream?: string }): string {
  return stringify({
    listen: { port: 0, ...extra.listen },
    regions: {
      a: {
        upstreams: [extra.upstream ?? 'https://127.0.0.1:9443'],
        capacity: { rps: 10 },
        ...(extra.tls && { tls: extra.tls }),
      },
    },
    routing: { default: 'a' },
    drainDelayMs: 0,
  }).replaceAll('DIR', dir);
}

function load(text: string, file: string): { config?: GatewayConfig; problems: string[] } {
  try {
    return { config: parseConfigText(text, file, {}), problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
}

describe.runIf(opensslAvailable())('TLS settings in the config', () => {
  let certs: TestCertificates;
  let file: string;
  beforeAll(async () => {
    certs = await makeCertificates(await mkdtemp(join(tmpdir(), 'floodgate-tls-config-')));
    file = join(certs.dir, 'gateway.yaml');
  });
  afterAll(async () => {
    await rm(certs.dir, { recursive: true, force: true });
  });

  // A CA file is read at load; servername is left to the URL and rejectUnauthorized defaults to true.
  it('reads an upstream CA and fills the defaults', () => {
    const { config } = load(configWith(certs.dir, { tls: { ca: 'ca.pem' } }), file);
    expect(config!.regions.a!.tls).toEqual({ ca: 'ca.pem', rejectUnauthorized: true });
    expect(config!.tlsMaterial.upstreamCa.get('a')!.equals(certs.ca)).toBe(true);
    expect(config!.drainDelayMs).toBe(0);
    expect(config!.tlsMaterial.listen).toBeUndefined();
  });

  // A listening certificate and key are read (relative to the config's folder) with TLS 1.2 as the floor.
  it('reads the public port certificate and key', () => {
    const { config } = load(
      configWith(certs.dir, { listen: { tls: { cert: 'server.pem', key: 'server.key' } } }),
      file,
    );
    expect(config!.listen.tls).toMatchObject({ minVersion: 'TLSv1.2', http2: true });
    expect(config!.tlsMaterial.listen).toMatchObject({
      cert: certs.cert,
      key: certs.key,
      minVersion: 'TLSv1.2',
    });
  });

  // Each unusable file is one problem naming the file and key path.
  it.each([
    [
      'an unreadable upstream CA',
      { tls: { ca: 'DIR/missing.pem' } },
      /^FILE: regions\.a\.tls\.ca: cannot read ".*missing\.pem" \(ENOENT\)$/,
    ],
    [
      'a CA file without a certificate',
      { tls: { ca: 'DIR/leaf.ext' } },
      /^FILE: regions\.a\.tls\.ca: ".*leaf\.ext" holds no PEM certificate$/,
    ],
    [
      'upstream TLS on a region without https upstreams',
      { tls: { rejectUnauthorized: false }, upstream: 'http://127.0.0.1:9001' },
      /^FILE: regions\.a\.tls: applies to https:\/\/ upstreams, and this region has none$/,
    ],
    [
      'an unreadable certificate',
      { listen: { tls: { cert: 'nope.pem', key: 'server.key' } } },
      /^FILE: listen\.tls\.cert: cannot read ".*nope\.pem" \(ENOENT\)$/,
    ],
    [
      'a key that is not a key',
      { listen: { tls: { cert: 'server.pem', key: 'server.pem' } } },
      /^FILE: listen\.tls\.key: ".*server\.pem" is not a usable PEM private key/,
    ],
    [
      'a key that does not match the certificate',
      { listen: { tls: { cert: 'server.pem', key: 'other.key' } } },
      /^FILE: listen\.tls\.key: ".*other\.key" does not match the certificate ".*server\.pem"$/,
    ],
    [
      'a cipher list OpenSSL does not know',
      { listen: { tls: { cert: 'server.pem', key: 'server.key', ciphers: 'NO-SUCH-CIPHER' } } },
      /^FILE: listen\.tls: /,
    ],
    [
      'TLS older than 1.2',
      { listen: { tls: { cert: 'server.pem', key: 'server.key', minVersion: 'TLSv1' } } },
      /^FILE: listen\.tls\.minVersion: must be TLSv1\.2 or TLSv1\.3$/,
    ],
  ])('refuses %s', (_what, extra, problem) => {
    const { problems } = load(configWith(certs.dir, extra), file);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.replace(file, 'FILE')).toMatch(problem);
  });

  // drainDelayMs is a whole number of milliseconds, never negative.
  it('refuses a negative drainDelayMs', async () => {
    const text = configWith(certs.dir, { tls: { ca: 'ca.pem' } }).replace(
      'drainDelayMs: 0',
      'drainDelayMs: -1',
    );
    expect(load(text, file).problems).toEqual([`${file}: drainDelayMs: must be a whole number >= 0`]);
  });
});

// Kept apart from the openssl-made files: a missing file needs no certificate to be reported.
describe('TLS file problems without openssl', () => {
  // An unreadable CA is reported even when nothing else about the region is wrong.
  it('names an unreadable CA file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'floodgate-tls-config-'));
    const configFile = join(dir, 'g.yaml');
    await writeFile(configFile, '');
    const { problems } = load(configWith(dir, { tls: { ca: '/nonexistent/ca.pem' } }), configFile);
    expect(problems).toEqual([`${configFile}: regions.a.tls.ca: cannot read "/nonexistent/ca.pem" (ENOENT)`]);
    await rm(dir, { recursive: true, force: true });
  });
});
