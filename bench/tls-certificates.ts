import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** PEM files made for one run (a test's or a benchmark's); no key is ever committed. */
export interface Certificates {
  dir: string;
  /** The test CA's certificate: trust it to accept `cert`. */
  caPath: string;
  /** Signed by the CA for `localhost` and `127.0.0.1`. */
  certPath: string;
  keyPath: string;
  /** A second leaf for the same names with its own key, for reloads and mismatched pairs. */
  otherCertPath: string;
  otherKeyPath: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a CA and two leaf certificates it signed, with openssl, in `dir`. */
export async function makeCertificates(dir: string): Promise<Certificates> {
  const at = (name: string) => join(dir, name);
  const openssl = (args: string[]) => exec('openssl', args, { cwd: dir, timeout: 20_000 });
  await openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=floodgate test CA',
  ]);
  await writeFile(at('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  for (const name of ['server', 'other']) {
    await openssl([
      'req',
      ...EC_KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      '/CN=localhost',
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'leaf.ext',
      '-out',
      `${name}.pem`,
    ]);
  }
  return {
    dir,
    caPath: at('ca.pem'),
    certPath: at('server.pem'),
    keyPath: at('server.key'),
    otherCertPath: at('other.pem'),
    otherKeyPath: at('other.key'),
    ca: await readFile(at('ca.pem')),
    cert: await readFile(at('server.pem')),
    key: await readFile(at('server.key')),
  };
}
