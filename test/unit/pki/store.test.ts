import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../src/common/errors.js';
import {
  createCa, generateKeyPair, isIssuedBy, issueServerCertificate, loadOrCreateCa, loadOrCreateServerCertificate,
  serverCertProblem, writePrivateFile, type CertAndKey,
} from '../../../src/pki/index.js';
import { parseCertificate } from '../../../src/pki/x509.js';
import { certNameKeys, ipToBytes, nameKey } from '../../../src/pki/server-cert.js';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'ferry-pki-')); });
afterEach(() => { rmSync(root, { recursive: true, force: true }); });

const mode = (path: string): number => statSync(path).mode & 0o777;

function expectPki(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(FerryError);
  expect((caught as FerryError).code).toBe('Pki.Invalid');
  expect((caught as FerryError).message).toMatch(message);
}

describe('writePrivateFile', () => {
  it('writes 0600 atomically, replaces a looser file and leaves no temp file', () => {
    const path = join(root, 'secret');
    writeFileSync(path, 'old', { mode: 0o644 });
    chmodSync(path, 0o644);
    writePrivateFile(path, 'new secret\n');
    expect(readFileSync(path, 'utf8')).toBe('new secret\n');
    expect(mode(path)).toBe(0o600);
    expect(readdirSync(root)).toEqual(['secret']);
  });

  it('keeps 0600 whatever the umask', () => {
    const old = process.umask(0);
    try {
      writePrivateFile(join(root, 'k'), 'x');
    } finally {
      process.umask(old);
    }
    expect(mode(join(root, 'k'))).toBe(0o600);
  });

  it('fails without leaving anything behind when the directory is missing', () => {
    expect(() => writePrivateFile(join(root, 'nope', 'k'), 'x')).toThrow(/ENOENT/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('loadOrCreateCa', () => {
  it('creates dir 0700, ca.key 0600, ca.crt 0644, a 3072-bit CA', () => {
    const dir = join(root, 'data', 'pki');
    const ca = loadOrCreateCa(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(mode(join(dir, 'ca.crt'))).toBe(0o644);
    expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe(ca.certPem);
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe(ca.keyPem);
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key']);
    expect((parseCertificate(ca.certPem).publicKey as unknown as { n: { bitLength(): number } }).n.bitLength()).toBe(3072);
  });

  it('reuses existing files on the second load without rewriting them', () => {
    const first = loadOrCreateCa(root);
    const inode = statSync(join(root, 'ca.key')).ino;
    const second = loadOrCreateCa(root);
    expect(second).toEqual(first);
    expect(statSync(join(root, 'ca.key')).ino).toBe(inode);
  });

  it('leaves the mode of an existing directory alone', () => {
    const dir = join(root, 'existing');
    mkdirSync(dir, { mode: 0o750 });
    chmodSync(dir, 0o750);
    writeCa(dir, createCa({ keyBits: 2048 }));
    loadOrCreateCa(dir);
    expect(mode(dir)).toBe(0o750);
  });

  it('refuses a certificate whose key is missing, and one whose key does not match', () => {
    const ca = createCa({ keyBits: 2048 });
    writeFileSync(join(root, 'ca.crt'), ca.certPem);
    expectPki(() => loadOrCreateCa(root), /ca\.key does not/);
    writePrivateFile(join(root, 'ca.key'), generateKeyPair().privateKeyPem);
    expectPki(() => loadOrCreateCa(root), /does not belong/);
    writePrivateFile(join(root, 'ca.key'), 'garbage');
    expectPki(() => loadOrCreateCa(root), /not a readable PEM/);
  });

  it('refuses an expired CA rather than replacing it', () => {
    const expired = createCaAt(-1);
    writeCa(root, expired);
    expectPki(() => loadOrCreateCa(root), /expired on/);
  });

  it('completes a first start that crashed after writing the key', () => {
    const keys = generateKeyPair();
    writePrivateFile(join(root, 'ca.key'), keys.privateKeyPem);
    const ca = loadOrCreateCa(root);
    expect(ca.keyPem).toBe(keys.privateKeyPem);
    expect(existsSync(join(root, 'ca.crt'))).toBe(true);
    const server = issueServerCertificate(ca, ['localhost']);
    expect(isIssuedBy(server.certPem, ca.certPem)).toBe(true);
  });
});

function writeCa(dir: string, ca: CertAndKey): void {
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writePrivateFile(join(dir, 'ca.key'), ca.keyPem);
}

/** A CA whose whole validity lies `days` days from now (negative: in the past). */
function createCaAt(days: number): CertAndKey {
  const realNow = Date.now;
  Date.now = () => realNow() + (days - 1) * 86_400_000;
  try {
    return createCa({ keyBits: 2048, validDays: 0.5 });
  } finally {
    Date.now = realNow;
  }
}

describe('loadOrCreateServerCertificate', () => {
  let ca: CertAndKey;
  beforeAll(() => { ca = createCa({ keyBits: 2048 }); });

  const load = (names: string[], withCa = ca): CertAndKey => loadOrCreateServerCertificate(root, withCa, names);

  it('creates server.crt 0644 and server.key 0600 naming every DNS name and IP', () => {
    const dir = join(root, 'fresh');
    const cert = loadOrCreateServerCertificate(dir, ca, ['localhost', '127.0.0.1', '::1']);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'server.key'))).toBe(0o600);
    expect(mode(join(dir, 'server.crt'))).toBe(0o644);
    expect(isIssuedBy(cert.certPem, ca.certPem)).toBe(true);
    expect(certNameKeys(parseCertificate(cert.certPem))).toEqual(new Set(['dns:localhost', 'ip:7f000001', `ip:${'0'.repeat(31)}1`]));
  });

  it('reuses the files when the names are covered (case, trailing dot, IPv6 spelling, subsets)', () => {
    const first = load(['LocalHost', '127.0.0.1', '::1']);
    for (const names of [['localhost'], ['localhost.', '0:0:0:0:0:0:0:1'], ['127.0.0.1', 'LOCALHOST']]) {
      expect(load(names)).toEqual(first);
    }
  });

  it('re-issues when a name is added, keeping the new cert and key on disk', () => {
    const first = load(['localhost']);
    const second = load(['localhost', '10.1.2.3']);
    expect(second.certPem).not.toBe(first.certPem);
    expect(second.keyPem).not.toBe(first.keyPem);
    expect(readFileSync(join(root, 'server.crt'), 'utf8')).toBe(second.certPem);
    expect(readFileSync(join(root, 'server.key'), 'utf8')).toBe(second.keyPem);
    expect(certNameKeys(parseCertificate(second.certPem)).has(nameKey('10.1.2.3'))).toBe(true);
    expect(load(['localhost', '10.1.2.3'])).toEqual(second);
  });

  it('re-issues when the CA changed', () => {
    const first = load(['localhost']);
    const other = createCa({ keyBits: 2048 });
    const second = load(['localhost'], other);
    expect(second.certPem).not.toBe(first.certPem);
    expect(isIssuedBy(second.certPem, other.certPem)).toBe(true);
    expect(isIssuedBy(second.certPem, ca.certPem)).toBe(false);
  });

  it('re-issues when the certificate expires within 30 days, or is missing, or the key does not match', () => {
    const soon = issueServerCertificate(ca, ['localhost'], 29);
    writeFileSync(join(root, 'server.crt'), soon.certPem);
    writePrivateFile(join(root, 'server.key'), soon.keyPem);
    expect(serverCertProblem(soon, ca, ['localhost'])).toBe('expires within 30 days');
    const renewed = load(['localhost']);
    expect(renewed.certPem).not.toBe(soon.certPem);
    expect(serverCertProblem(renewed, ca, ['localhost'])).toBeNull();

    writePrivateFile(join(root, 'server.key'), generateKeyPair().privateKeyPem);
    const rekeyed = load(['localhost']);
    expect(rekeyed.certPem).not.toBe(renewed.certPem);
    expect(serverCertProblem(rekeyed, ca, ['localhost'])).toBeNull();

    unlinkSync(join(root, 'server.crt'));
    expect(load(['localhost']).certPem).not.toBe(rekeyed.certPem);
  });

  it('encodes IP addresses as SAN bytes, IPv6 in every spelling', () => {
    const table: [string, string | null][] = [
      ['127.0.0.1', '7f000001'],
      ['::1', '00000000000000000000000000000001'],
      ['2001:db8::1', '20010db8000000000000000000000001'],
      ['1::', '00010000000000000000000000000000'],
      ['::', '00000000000000000000000000000000'],
      ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
      ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
      ['fe80::1%eth0', null],
      ['localhost', null],
      ['01.2.3.4', null],
    ];
    for (const [ip, hex] of table) expect(ipToBytes(ip)?.toString('hex') ?? null).toBe(hex);
    const cert = issueServerCertificate(ca, ['::ffff:1.2.3.4', '2001:db8::1']);
    // OpenSSL's own rendering is the independent check that the bytes landed in the SAN.
    expect(new X509Certificate(cert.certPem).subjectAltName).toBe('IP Address:0:0:0:0:0:FFFF:102:304, IP Address:2001:DB8:0:0:0:0:0:1');
  });

  it('rejects names that are neither DNS names nor IP addresses', () => {
    expectPki(() => issueServerCertificate(ca, []), /at least one/);
    expectPki(() => issueServerCertificate(ca, ['bad name']), /neither a DNS name/);
    expectPki(() => issueServerCertificate(ca, ['https://x']), /neither a DNS name/);
    expectPki(() => issueServerCertificate(ca, ['fe80::1%eth0']), /zone id/);
    expectPki(() => issueServerCertificate(ca, [`${'a'.repeat(64)}.example`]), /neither a DNS name/);
  });
});
