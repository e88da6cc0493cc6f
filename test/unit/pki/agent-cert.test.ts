import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import {
  certFingerprint, certToDer, createCa, createCsr, generateKeyPair, isIssuedBy, issueServerCertificate,
  parseAgentIdentity, signAgentCsr, type CertAndKey, type KeyPairPem,
} from '../../../src/pki/index.js';
import { forgeSigner } from '../../../src/pki/signer.js';
import { parseSubjectAltName } from '../../../src/pki/agent-identity.js';
import { issueEndEntity, loadIssuer } from '../../../src/pki/issuer.js';

const IDS = { nodeId: '0b7f6c1e-4a7e-4a55-9d6e-7d1f3b2c9a01', endpointId: 'c3a9e1f0-2d4b-4e6a-8b1c-9f0e1d2c3b4a' };
const DAY = 86_400_000;

function pkiError(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('Pki.Invalid');
    return err as FerryError;
  }
  throw new Error('expected a Pki.Invalid error');
}

/** A CSR built directly with forge, for the shapes createCsr refuses to make. */
function forgeCsr(opts: { bits?: number; md?: forge.md.MessageDigest; signWith?: string; publicKeyPem?: string }): string {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: opts.bits ?? 2048 });
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(opts.publicKeyPem ?? publicKey.export({ type: 'spki', format: 'pem' }).toString());
  csr.setSubject([{ name: 'commonName', value: 'x' }]);
  const signer = forge.pki.privateKeyFromPem(opts.signWith ?? privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  csr.sign(signer, opts.md ?? forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

describe('agent certificates', () => {
  let ca: CertAndKey;
  let keys: KeyPairPem;
  let csr: string;

  beforeAll(() => {
    ca = createCa({ commonName: 'Agent Test CA', keyBits: 2048 });
    keys = generateKeyPair();
    csr = createCsr(keys, 'laptop.local');
  });

  it('issues a client+server cert naming the node and endpoint, checked by OpenSSL', () => {
    const issued = signAgentCsr(ca, csr, IDS);
    const x = new X509Certificate(issued.certPem);
    const caX = new X509Certificate(ca.certPem);
    expect(x.verify(caX.publicKey)).toBe(true);
    expect(x.checkIssued(caX)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.subject).toBe(`CN=${IDS.nodeId}`);
    expect(x.subjectAltName).toBe(`URI:urn:ferry:node:${IDS.nodeId}, URI:urn:ferry:endpoint:${IDS.endpointId}`);
    expect(x.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(x.checkPrivateKey(createPrivateKey(keys.privateKeyPem))).toBe(true);
    expect(x.serialNumber.toLowerCase()).toBe(issued.serial);
    expect(issued.serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(issued.fingerprint).toBe(x.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(Math.abs(issued.notAfter.getTime() - (Date.now() + 825 * DAY))).toBeLessThan(60_000);
    expect(new Date(x.validTo).getTime()).toBe(Math.floor(issued.notAfter.getTime() / 1000) * 1000);
  });

  it('gives every certificate a fresh serial', () => {
    const serials = new Set(Array.from({ length: 5 }, () => signAgentCsr(ca, csr, IDS).serial));
    expect(serials.size).toBe(5);
  });

  it('never outlives its CA', () => {
    const shortCa = createCa({ keyBits: 2048, validDays: 10 });
    const issued = signAgentCsr(shortCa, csr, IDS);
    const caNotAfter = new Date(new X509Certificate(shortCa.certPem).validTo).getTime();
    expect(issued.notAfter.getTime()).toBe(caNotAfter);
    expect(new Date(new X509Certificate(issued.certPem).validTo).getTime()).toBe(caNotAfter);
  });

  it('rejects a tampered CSR', () => {
    const der = certToDerOfCsr(csr);
    const at = der.indexOf(Buffer.from('laptop.local'));
    expect(at).toBeGreaterThan(0);
    der[at] = 'L'.charCodeAt(0);
    const tampered = forge.pki.certificationRequestToPem(forge.pki.certificationRequestFromAsn1(forge.asn1.fromDer(der.toString('binary'))));
    expect(pkiError(() => signAgentCsr(ca, tampered, IDS)).message).toMatch(/signature does not verify/);
  });

  it('rejects a CSR signed by a key other than the one it carries', () => {
    const other = generateKeyPair();
    expect(pkiError(() => signAgentCsr(ca, forgeCsr({ signWith: other.privateKeyPem }), IDS)).message).toMatch(/signature does not verify/);
  });

  it('rejects weak keys, SHA-1 signatures and anything that is not a CSR', () => {
    expect(pkiError(() => signAgentCsr(ca, forgeCsr({ bits: 1024 }), IDS)).message).toMatch(/1024 bits/);
    expect(pkiError(() => signAgentCsr(ca, forgeCsr({ md: forge.md.sha1.create() }), IDS)).message).toMatch(/SHA-256/);
    expect(pkiError(() => signAgentCsr(ca, '', IDS)).message).toMatch(/non-empty/);
    expect(pkiError(() => signAgentCsr(ca, 'hello', IDS)).message).toMatch(/cannot be parsed/);
    expect(pkiError(() => signAgentCsr(ca, ca.certPem, IDS)).message).toMatch(/cannot be parsed/);
    expect(pkiError(() => signAgentCsr(ca, csr.replace(/[A-Za-z0-9+/]{10}\n/, '!!!!!!!!!!\n'), IDS)).message).toMatch(/cannot be parsed|does not verify/);
    expect(pkiError(() => signAgentCsr(ca, `${csr}${' '.repeat(20_000)}`, IDS)).message).toMatch(/too long/);
  });

  it('rejects ids that cannot live in a URN', () => {
    for (const nodeId of ['', 'a b', 'x:y', 'é', 'a'.repeat(65), '-lead']) {
      expect(pkiError(() => signAgentCsr(ca, csr, { ...IDS, nodeId })).message).toMatch(/nodeId/);
    }
    expect(pkiError(() => signAgentCsr(ca, csr, { ...IDS, endpointId: 'a/b' })).message).toMatch(/endpointId/);
  });

  it('createCsr refuses a key pair whose halves do not belong together', () => {
    const other = generateKeyPair();
    expect(pkiError(() => createCsr({ publicKeyPem: other.publicKeyPem, privateKeyPem: keys.privateKeyPem }, 'x')).message).toMatch(/does not match/);
  });

  it('parseAgentIdentity reads PEM and DER, and returns null for anything else', () => {
    const issued = signAgentCsr(ca, csr, IDS);
    expect(parseAgentIdentity(issued.certPem)).toEqual(IDS);
    expect(parseAgentIdentity(certToDer(issued.certPem))).toEqual(IDS);
    expect(parseAgentIdentity(issueServerCertificate(ca, ['localhost']).certPem)).toBeNull();
    expect(parseAgentIdentity(ca.certPem)).toBeNull();
    expect(parseAgentIdentity('not a cert')).toBeNull();
    expect(parseAgentIdentity(Buffer.from('not DER'))).toBeNull();
    expect(parseAgentIdentity(Buffer.alloc(0))).toBeNull();
  });
});

describe('reading an agent certificate without node-forge', () => {
  let ca: CertAndKey;
  beforeAll(() => {
    ca = createCa({ commonName: 'SAN Test CA', keyBits: 2048 });
  });

  /** A certificate from the CA with exactly these SAN entries (forge writes them as given). */
  function withSan(altNames: Array<{ type: number; value: string }>): string {
    const keys = generateKeyPair();
    return issueEndEntity(loadIssuer(ca), {
      publicKey: forge.pki.publicKeyFromPem(keys.publicKeyPem), subject: [{ name: 'commonName', value: 'x' }],
      extensions: [{ name: 'subjectAltName', altNames }], validDays: 1,
    }).certPem;
  }

  it('one URI holding a comma and a second URN is one name, not two: a forged identity is not read', () => {
    const cert = withSan([
      { type: 6, value: `urn:x, URI:urn:ferry:node:${IDS.nodeId}, URI:urn:ferry:endpoint:${IDS.endpointId}` },
    ]);
    expect(new X509Certificate(cert).subjectAltName).toMatch(/^URI:"/);
    expect(parseAgentIdentity(cert)).toBeNull();
  });

  it('other SAN entries around the two URNs do not matter; two node URNs are ambiguous', () => {
    const named = withSan([
      { type: 2, value: 'host.example' }, { type: 6, value: `urn:ferry:node:${IDS.nodeId}` },
      { type: 7, ip: '127.0.0.1' } as unknown as { type: number; value: string }, { type: 6, value: `urn:ferry:endpoint:${IDS.endpointId}` },
    ]);
    expect(parseAgentIdentity(named)).toEqual(IDS);
    const twice = withSan([
      { type: 6, value: `urn:ferry:node:${IDS.nodeId}` }, { type: 6, value: 'urn:ferry:node:other' }, { type: 6, value: `urn:ferry:endpoint:${IDS.endpointId}` },
    ]);
    expect(parseAgentIdentity(twice)).toBeNull();
  });

  it('parses Node\'s SAN text strictly', () => {
    expect(parseSubjectAltName('URI:urn:a, DNS:b')).toEqual([{ type: 'URI', value: 'urn:a' }, { type: 'DNS', value: 'b' }]);
    expect(parseSubjectAltName('URI:"urn:a, URI:urn:b"')).toEqual([{ type: 'URI', value: 'urn:a, URI:urn:b' }]);
    expect(parseSubjectAltName('IP Address:127.0.0.1')).toEqual([{ type: 'IP Address', value: '127.0.0.1' }]);
    expect(parseSubjectAltName('')).toEqual([]);
    for (const bad of ['URI', 'URI:"unterminated', 'URI:"a"x', 'URI:a"b', 'URI:a,URI:b', 'U-RI:a', 'URI:"\\q"']) {
      expect(parseSubjectAltName(bad), bad).toBeNull();
    }
  });
});

describe('isIssuedBy', () => {
  let ca: CertAndKey;
  let cert: string;
  beforeAll(() => {
    ca = createCa({ commonName: 'Same Name', keyBits: 2048 });
    cert = signAgentCsr(ca, createCsr(generateKeyPair(), 'a'), IDS).certPem;
  });

  it('accepts a certificate from the CA, as PEM or DER', () => {
    expect(isIssuedBy(cert, ca.certPem)).toBe(true);
    expect(isIssuedBy(certToDer(cert), ca.certPem)).toBe(true);
  });

  it('rejects another CA, even one with the same name', () => {
    expect(isIssuedBy(cert, createCa({ keyBits: 2048 }).certPem)).toBe(false);
    expect(isIssuedBy(cert, createCa({ commonName: 'Same Name', keyBits: 2048 }).certPem)).toBe(false);
  });

  it('rejects outside the validity period', () => {
    expect(isIssuedBy(cert, ca.certPem, new Date(Date.now() + 826 * DAY))).toBe(false);
    expect(isIssuedBy(cert, ca.certPem, new Date(Date.now() - 10 * 60_000))).toBe(false);
    expect(isIssuedBy(cert, ca.certPem, new Date(Date.now() + 800 * DAY))).toBe(true);
  });

  it('rejects garbage without throwing', () => {
    expect(isIssuedBy('junk', ca.certPem)).toBe(false);
    expect(isIssuedBy(cert, 'junk')).toBe(false);
    expect(isIssuedBy(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), ca.certPem)).toBe(false);
  });
});

describe('certFingerprint', () => {
  it('is the SHA-256 of the DER, the same for PEM and DER, and matches OpenSSL', () => {
    const { certPem } = createCa({ keyBits: 2048 });
    const fp = certFingerprint(certPem);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(certFingerprint(certToDer(certPem))).toBe(fp);
    expect(certFingerprint(new X509Certificate(certPem).raw)).toBe(fp);
    expect(fp).toBe(new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase());
    // Leading text (as in `openssl x509 -text` output) does not change the answer.
    expect(certFingerprint(`Certificate:\n  blah\n${certPem}`)).toBe(fp);
  });

  it('throws Pki.Invalid without a certificate', () => {
    expect(pkiError(() => certFingerprint('nothing here')).message).toMatch(/no CERTIFICATE/);
    expect(pkiError(() => certFingerprint(Buffer.alloc(0))).message).toMatch(/0 bytes/);
  });
});

describe('createCa', () => {
  it('makes a self-signed pathLen-0 CA with a distinct default name', () => {
    const a = new X509Certificate(createCa({ keyBits: 2048 }).certPem);
    const b = new X509Certificate(createCa({ keyBits: 2048 }).certPem);
    expect(a.ca).toBe(true);
    expect(a.verify(a.publicKey)).toBe(true);
    expect(a.subject).toMatch(/^CN=Ferry CA [0-9a-f]{8}\nO=Ferry$/);
    expect(a.subject).not.toBe(b.subject);
    expect(a.toLegacyObject().ext_key_usage).toBeUndefined();
  });

  it('refuses names forge would mangle', () => {
    expect(pkiError(() => createCa({ commonName: 'Zürich CA', keyBits: 2048 })).message).toMatch(/printable ASCII/);
  });
});

describe('forgeSigner', () => {
  it('produces exactly the signature forge itself would (PKCS#1 v1.5 is deterministic)', () => {
    const { privateKeyPem } = generateKeyPair();
    const md = forge.md.sha256.create();
    md.update('some bytes to be signed');
    const byForge = forge.pki.privateKeyFromPem(privateKeyPem).sign(md);
    const byOpenSsl = forgeSigner(createPrivateKey(privateKeyPem)).sign(md);
    expect(Buffer.from(byOpenSsl, 'binary').toString('hex')).toBe(Buffer.from(byForge, 'binary').toString('hex'));
  });
});

function certToDerOfCsr(pem: string): Buffer {
  const block = forge.pem.decode(pem).find((b) => b.type === 'CERTIFICATE REQUEST');
  if (!block) throw new Error('no CSR block');
  return Buffer.from(block.body, 'binary');
}
