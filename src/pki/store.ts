import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from '../common/errors.js';
import { createCa, type CertAndKey } from './ca.js';
import { ensurePrivateDir, writePrivateFile, writePublicFile } from './files.js';
import { loadIssuer } from './issuer.js';
import { certNameKeys, issueServerCertificate, nameKey } from './server-cert.js';
import { isIssuedBy } from './verify.js';
import { certMatchesKey, parseCertificate } from './x509.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const SERVER_CERT_FILE = 'server.crt';
export const SERVER_KEY_FILE = 'server.key';
/** A server certificate closer than this to its end is replaced at start. */
export const SERVER_CERT_RENEW_BEFORE_MS = 30 * 86_400_000;

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FerryError('Pki.Invalid', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/**
 * dir/ca.crt + dir/ca.key (0600); dir created 0700 if missing; reuses existing files.
 * A CA is never replaced silently: agents trust it, so a broken or expired one is an error
 * for the admin. A key without a certificate (a crash during the first start) gets a new
 * certificate; a certificate without its key is an error.
 */
export function loadOrCreateCa(dir: string): CertAndKey {
  ensurePrivateDir(dir);
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const certPem = readIfExists(certPath);
  const keyPem = readIfExists(keyPath);
  if (certPem !== null && keyPem !== null) {
    const ca = { certPem, keyPem };
    try {
      loadIssuer(ca);
    } catch (err) {
      throw new FerryError('Pki.Invalid', `${certPath} / ${keyPath}: ${(err as Error).message}`, { cause: err });
    }
    const { notAfter } = parseCertificate(certPem).validity;
    if (notAfter.getTime() <= Date.now()) throw new FerryError('Pki.Invalid', `${certPath} expired on ${notAfter.toISOString()}`);
    return ca;
  }
  if (certPem !== null) {
    throw new FerryError('Pki.Invalid', `${certPath} exists but ${keyPath} does not; restore the key, or remove both to start a new CA (every agent then needs a new setup key)`);
  }
  const ca = createCa(keyPem !== null ? { keyPem } : {});
  // Key first: a crash between the two writes leaves a key, which the next start reuses.
  if (keyPem === null) writePrivateFile(keyPath, ca.keyPem);
  writePublicFile(certPath, ca.certPem);
  return ca;
}

/** Why an existing server certificate cannot be kept, or null when it can. */
export function serverCertProblem(existing: CertAndKey, ca: CertAndKey, names: string[], now = Date.now()): string | null {
  if (!certMatchesKey(existing.certPem, existing.keyPem)) return 'key does not match certificate';
  if (!isIssuedBy(existing.certPem, ca.certPem, new Date(now))) return 'not issued by this CA, or not valid now';
  const cert = parseCertificate(existing.certPem);
  if (cert.validity.notAfter.getTime() - now < SERVER_CERT_RENEW_BEFORE_MS) return 'expires within 30 days';
  const have = certNameKeys(cert);
  const missing = names.filter((n) => !have.has(nameKey(n)));
  if (missing.length > 0) return `does not name ${missing.join(', ')}`;
  return null;
}

/** dir/server.crt + dir/server.key (0600); re-issues if missing, not signed by `ca`, expiring within 30 days, or its SANs don't cover `names`. */
export function loadOrCreateServerCertificate(dir: string, ca: CertAndKey, names: string[]): CertAndKey {
  ensurePrivateDir(dir);
  const certPath = join(dir, SERVER_CERT_FILE);
  const keyPath = join(dir, SERVER_KEY_FILE);
  const certPem = readIfExists(certPath);
  const keyPem = readIfExists(keyPath);
  if (certPem !== null && keyPem !== null && serverCertProblem({ certPem, keyPem }, ca, names) === null) {
    return { certPem, keyPem };
  }
  const issued = issueServerCertificate(ca, names);
  // Key first: after a crash in between, the old cert no longer matches and is re-issued.
  writePrivateFile(keyPath, issued.keyPem);
  writePublicFile(certPath, issued.certPem);
  return issued;
}
