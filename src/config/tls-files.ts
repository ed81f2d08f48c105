import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { keyPath } from './key-path.js';
import type { ParsedConfig } from './schema.js';

/**
 * The certificate files a config names, read when the config is loaded. Reading them here (and not
 * when a server or pool is built) makes an unreadable or mismatched file a config problem: `check`
 * reports it, a start exits 2, and a reload with it is rejected while the old files stay in use.
 */
export interface TlsMaterial {
  /** The public port's certificate and key with their options; undefined without `listen.tls`. */
  readonly listen: SecureContextOptions | undefined;
  /** Per region whose `tls.ca` names a file: the PEM text that replaces the system CAs. */
  readonly upstreamCa: ReadonlyMap<string, Buffer>;
}

type TlsKeys = Pick<ParsedConfig, 'listen' | 'regions'>;

/**
 * Reads and checks every file under `listen.tls` and `regions.*.tls`; problems are
 * `key.path: what is wrong`. Relative paths are taken from `baseDir`, the config file's folder, so
 * the files can sit beside the config whatever the working directory.
 */
export function readTlsMaterial(
  config: TlsKeys,
  baseDir: string,
): { material: TlsMaterial; problems: string[] } {
  const problems: string[] = [];
  const readFile = (path: string, at: string) => readAt(resolve(baseDir, path), at, problems);
  const upstreamCa = new Map<string, Buffer>();
  for (const [name, region] of Object.entries(config.regions)) {
    const tls = region.tls;
    if (tls === undefined) continue;
    const at = keyPath(['regions', name, 'tls']);
    if (!region.upstreams.some((url) => url.startsWith('https://')))
      problems.push(`${at}: applies to https:// upstreams, and this region has none`);
    if (tls.ca === undefined) continue;
    const ca = readFile(tls.ca, `${at}.ca`);
    if (ca === undefined) continue;
    if (certificateProblem(ca) !== undefined)
      problems.push(`${at}.ca: ${quoted(tls.ca)} holds no PEM certificate`);
    else upstreamCa.set(name, ca);
  }
  return {
    material: { listen: listenMaterial(config.listen.tls, readFile, problems), upstreamCa },
    problems,
  };
}

function listenMaterial(
  tls: ParsedConfig['listen']['tls'],
  readFile: (path: string, at: string) => Buffer | undefined,
  problems: string[],
): SecureContextOptions | undefined {
  if (tls === undefined) return undefined;
  const cert = readFile(tls.cert, 'listen.tls.cert');
  const key = readFile(tls.key, 'listen.tls.key');
  if (cert === undefined || key === undefined) return undefined;
  const badCert = certificateProblem(cert);
  if (badCert !== undefined) {
    problems.push(`listen.tls.cert: ${quoted(tls.cert)} is not a PEM certificate (${badCert})`);
    return undefined;
  }
  try {
    createPrivateKey({ key, passphrase: tls.passphrase });
  } catch (err) {
    problems.push(`listen.tls.key: ${quoted(tls.key)} is not a usable PEM private key (${reason(err)})`);
    return undefined;
  }
  const options: SecureContextOptions = {
    cert,
    key,
    passphrase: tls.passphrase,
    minVersion: tls.minVersion,
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
  };
  try {
    // What the server will build: a key that does not match the certificate, or ciphers OpenSSL
    // does not know, fail here rather than at the first handshake.
    createSecureContext(options);
  } catch (err) {
    const mismatch = /key values mismatch/i.test(reason(err));
    if (mismatch)
      problems.push(`listen.tls.key: ${quoted(tls.key)} does not match the certificate ${quoted(tls.cert)}`);
    else problems.push(`listen.tls: ${reason(err)}`);
    return undefined;
  }
  return options;
}

function readAt(path: string, at: string, problems: string[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    problems.push(
      `${at}: cannot read ${quoted(path)} (${(err as NodeJS.ErrnoException).code ?? reason(err)})`,
    );
    return undefined;
  }
}

function certificateProblem(pem: Buffer): string | undefined {
  try {
    new X509Certificate(pem);
    return undefined;
  } catch (err) {
    return reason(err);
  }
}

// A path is the operator's text: quoted, so odd characters cannot break the one-line problem form.
const quoted = (path: string) => JSON.stringify(path);

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}
