import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { CA_KEY_BITS, generateKeyPair, loadRsaPrivateKey, publicKeyPemOf } from './keys.js';
import { forgeSigner } from './signer.js';
import { certToPem, commonName, randomSerialHex, validityWindow } from './x509.js';

export interface CertAndKey { certPem: string; keyPem: string }

export const CA_VALID_DAYS = 3650;

export interface CreateCaOptions {
  /** Defaults to "Ferry CA <random>": distinct names keep two Ferry CAs apart in chain building and in error messages. */
  commonName?: string;
  validDays?: number;
  /** RSA size of a generated key; default CA_KEY_BITS. */
  keyBits?: number;
  /** Reuse this key (PEM) instead of generating one, e.g. when ca.key survived but ca.crt did not. */
  keyPem?: string;
}

/** A self-signed CA certificate that may sign only end-entity certificates (pathLen 0). */
export function createCa(opts: CreateCaOptions = {}): CertAndKey {
  const keyPem = opts.keyPem ?? generateKeyPair(opts.keyBits ?? CA_KEY_BITS).privateKeyPem;
  const key = loadRsaPrivateKey(keyPem, 'CA key');

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPemOf(keyPem));
  cert.serialNumber = randomSerialHex();
  Object.assign(cert.validity, validityWindow(opts.validDays ?? CA_VALID_DAYS));
  const subject: forge.pki.CertificateField[] = [
    ...commonName(opts.commonName ?? `Ferry CA ${randomBytes(4).toString('hex')}`),
    { name: 'organizationName', value: 'Ferry' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  // setExtensions derives subjectKeyIdentifier from cert.publicKey, so the key is set first.
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeSigner(key), forge.md.sha256.create());
  return { certPem: certToPem(cert), keyPem };
}
