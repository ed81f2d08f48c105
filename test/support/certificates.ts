import { toolAvailable } from './tools.js';

export { type Certificates as TestCertificates, makeCertificates } from '../../bench/tls-certificates.js';

/** Whether the TLS tests can run (see toolAvailable): for a describe-level condition. */
export function opensslAvailable(): boolean {
  return toolAvailable('openssl', 'openssl', 'the TLS tests');
}
