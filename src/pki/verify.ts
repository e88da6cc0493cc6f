import type forge from 'node-forge';
import { hasStrongSignature, parseCertificate } from './x509.js';

function within(cert: forge.pki.Certificate, at: Date): boolean {
  return cert.validity.notBefore <= at && at <= cert.validity.notAfter;
}

/**
 * Verifies `cert` was signed by `ca` (issuer name and RSA signature, SHA-2 only) and that both
 * are within their validity period at `at`. Never throws: anything unreadable is `false`.
 */
export function isIssuedBy(cert: string | Buffer, caCertPem: string, at: Date = new Date()): boolean {
  try {
    const child = parseCertificate(cert);
    const ca = parseCertificate(caCertPem);
    if (!hasStrongSignature(child)) return false;
    if (!within(child, at) || !within(ca, at)) return false;
    // verify() throws when the issuer name differs, returns false when the signature does.
    return ca.verify(child);
  } catch {
    return false;
  }
}
