import forge from 'node-forge';
import { FerryError } from '../common/errors.js';
import { loadRsaPrivateKey, MIN_KEY_BITS, type KeyPairPem } from './keys.js';
import { forgeSigner } from './signer.js';
import { commonName, hasStrongSignature } from './x509.js';

/** Same bound as RegisterRequest.csr in src/protocol/registration.ts. */
export const MAX_CSR_CHARS = 16_384;

/** A PKCS#10 request for `keyPair`, self-signed (SHA-256) to prove possession of the key. */
export function createCsr(keyPair: KeyPairPem, cn: string): string {
  const key = loadRsaPrivateKey(keyPair.privateKeyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keyPair.publicKeyPem);
  csr.setSubject(commonName(cn));
  csr.sign(forgeSigner(key), forge.md.sha256.create());
  // forge checks nothing at signing time: a public key that does not match the private key
  // would produce a CSR that every CA rejects, so catch that mistake here.
  if (!verifies(csr)) throw new FerryError('Pki.Invalid', 'CSR public key does not match the private key');
  return forge.pki.certificationRequestToPem(csr).replace(/\r\n/g, '\n');
}

/**
 * Parse a CSR and check its self-signature and key. Returns the public key it carries; its
 * subject and requested extensions are deliberately ignored: control alone decides what an
 * issued certificate says.
 */
export function readVerifiedCsr(csrPem: string): forge.pki.rsa.PublicKey {
  if (typeof csrPem !== 'string' || csrPem.length === 0) throw new FerryError('Pki.Invalid', 'CSR must be a non-empty PEM string');
  if (csrPem.length > MAX_CSR_CHARS) throw new FerryError('Pki.Invalid', `CSR is too long (${csrPem.length} characters; at most ${MAX_CSR_CHARS})`);
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    // forge also throws here for non-RSA keys ("OID is not RSA").
    throw new FerryError('Pki.Invalid', `CSR cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
  if (!hasStrongSignature(csr)) throw new FerryError('Pki.Invalid', 'CSR is not signed with SHA-256/384/512 with RSA');
  if (!verifies(csr)) throw new FerryError('Pki.Invalid', 'CSR signature does not verify (tampered, or signed with another key)');
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) throw new FerryError('Pki.Invalid', 'CSR carries no public key');
  const bits = publicKey.n.bitLength();
  if (bits < MIN_KEY_BITS) throw new FerryError('Pki.Invalid', `CSR key has ${bits} bits; at least ${MIN_KEY_BITS} are required`);
  return publicKey;
}

/** forge returns false for some bad signatures and throws ("Encryption block is invalid") for others. */
function verifies(csr: forge.pki.CertificateSigningRequest): boolean {
  try {
    return csr.verify();
  } catch {
    return false;
  }
}
