import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import forge from 'node-forge';
import { FerryError } from '../common/errors.js';

/** Certificates start this much in the past so a peer whose clock runs behind still accepts them. */
export const CLOCK_SKEW_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
/** Longest Ferry accepts for a PEM/DER certificate input; ours are ~1.3 KB. */
export const MAX_CERT_BYTES = 64 * 1024;

/**
 * A random positive 128-bit serial as lower-case hex. The first byte is forced into
 * 0x40..0x7f: high bit clear keeps the DER INTEGER positive, a non-zero top keeps its
 * encoding minimal (OpenSSL rejects padded integers), and 126 random bits keep it unique.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

export function validityWindow(validDays: number, now = Date.now()): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validDays) || validDays <= 0) throw new RangeError(`validDays must be a positive number, got ${validDays}`);
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + validDays * DAY_MS) };
}

/**
 * A subject/issuer common name. Encoded as UTF8String (RFC 5280 §4.1.2.4) but restricted to
 * printable ASCII, because forge does not decode UTF8String values when it parses and would
 * mangle non-ASCII names when copying a parsed subject into an issuer.
 */
export function commonName(value: string): forge.pki.CertificateField[] {
  if (!/^[\x20-\x7e]{1,64}$/.test(value)) throw new FerryError('Pki.Invalid', `common name must be 1-64 printable ASCII characters: ${JSON.stringify(value.slice(0, 80))}`);
  return [{ name: 'commonName', value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }];
}

/** DER bytes of the first CERTIFICATE in a PEM string, or the Buffer itself (already DER). */
export function certToDer(cert: string | Buffer): Buffer {
  if (Buffer.isBuffer(cert)) {
    if (cert.length === 0 || cert.length > MAX_CERT_BYTES) throw new FerryError('Pki.Invalid', `certificate DER has ${cert.length} bytes`);
    return cert;
  }
  if (typeof cert !== 'string' || cert.length > MAX_CERT_BYTES * 2) throw new FerryError('Pki.Invalid', 'certificate must be a PEM string of reasonable size');
  let blocks: forge.pem.ObjectPEM[] = [];
  try {
    blocks = forge.pem.decode(cert);
  } catch {
    // forge throws when it finds no PEM block at all; reported below like a missing one.
  }
  const block = blocks.find((b) => b.type === 'CERTIFICATE');
  if (!block || block.body.length === 0) throw new FerryError('Pki.Invalid', 'no CERTIFICATE block in PEM');
  return Buffer.from(block.body, 'binary');
}

/** Parse PEM or DER into a forge certificate; anything unreadable is Pki.Invalid. */
export function parseCertificate(cert: string | Buffer): forge.pki.Certificate {
  const der = certToDer(cert);
  try {
    return forge.pki.certificateFromAsn1(forge.asn1.fromDer(der.toString('binary')));
  } catch (err) {
    // forge also lands here for non-RSA keys: Ferry never issues those.
    throw new FerryError('Pki.Invalid', `certificate cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
}

export function certToPem(cert: forge.pki.Certificate): string {
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

/** The CA's key identifier as forge bytes, for its children's authorityKeyIdentifier. */
export function keyIdentifierOf(ca: forge.pki.Certificate): string {
  const ext = ca.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  if (ext?.subjectKeyIdentifier) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return ca.generateSubjectKeyIdentifier().getBytes();
}

/** True when `keyPem` is the private key for `certPem`'s public key. */
export function certMatchesKey(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** Signature algorithms Ferry accepts on certificates and CSRs (no MD5/SHA-1). */
const STRONG_SIGNATURES = new Set(['sha256WithRSAEncryption', 'sha384WithRSAEncryption', 'sha512WithRSAEncryption']);
export function hasStrongSignature(obj: { signatureOid: string | null }): boolean {
  const name = obj.signatureOid === null ? undefined : forge.pki.oids[obj.signatureOid];
  return name !== undefined && STRONG_SIGNATURES.has(name);
}
