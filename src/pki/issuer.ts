import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { FerryError } from '../common/errors.js';
import type { CertAndKey } from './ca.js';
import { loadRsaPrivateKey } from './keys.js';
import { forgeSigner } from './signer.js';
import { certMatchesKey, certToPem, keyIdentifierOf, parseCertificate, randomSerialHex, validityWindow } from './x509.js';

/** A CA ready to sign: its parsed certificate and its private key inside OpenSSL. */
export interface Issuer { cert: forge.pki.Certificate; key: KeyObject }

export function loadIssuer(ca: CertAndKey): Issuer {
  const cert = parseCertificate(ca.certPem);
  const key = loadRsaPrivateKey(ca.keyPem, 'CA key');
  if (!certMatchesKey(ca.certPem, ca.keyPem)) throw new FerryError('Pki.Invalid', 'CA key does not belong to the CA certificate');
  const bc = cert.getExtension('basicConstraints') as { cA?: boolean } | undefined;
  if (bc?.cA !== true) throw new FerryError('Pki.Invalid', 'CA certificate lacks basicConstraints cA=true');
  return { cert, key };
}

export interface EndEntity {
  publicKey: forge.pki.PublicKey;
  subject: forge.pki.CertificateField[];
  /** keyUsage, extKeyUsage, subjectAltName...; basicConstraints and key identifiers are added here. */
  extensions: object[];
  validDays: number;
}

export interface Issued { cert: forge.pki.Certificate; certPem: string; serial: string }

/** Sign an end-entity certificate with `issuer`; a fresh random serial each time. */
export function issueEndEntity(issuer: Issuer, spec: EndEntity): Issued {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  const serial = randomSerialHex();
  cert.serialNumber = serial;
  const window = validityWindow(spec.validDays);
  // A child never outlives its CA: TLS stacks would reject it after the CA expires anyway.
  if (window.notAfter > issuer.cert.validity.notAfter) window.notAfter = issuer.cert.validity.notAfter;
  Object.assign(cert.validity, window);
  cert.setSubject(spec.subject);
  cert.setIssuer(issuer.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: keyIdentifierOf(issuer.cert) },
  ]);
  cert.sign(forgeSigner(issuer.key), forge.md.sha256.create());
  return { cert, certPem: certToPem(cert), serial };
}
