import { createHash } from 'node:crypto';
import { certToDer } from './x509.js';

/**
 * Lower-case hex SHA-256 of the certificate's DER encoding: the value setup keys carry for
 * the CA, and what control stores per agent. Accepts PEM, or DER as Node's
 * `getPeerCertificate().raw` returns it, and gives the same answer for both.
 */
export function certFingerprint(cert: string | Buffer): string {
  return createHash('sha256').update(certToDer(cert)).digest('hex');
}
