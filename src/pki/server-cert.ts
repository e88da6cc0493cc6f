import { isIP } from 'node:net';
import forge from 'node-forge';
import { FerryError } from '../common/errors.js';
import type { CertAndKey } from './ca.js';
import { issueEndEntity, loadIssuer } from './issuer.js';
import { generateKeyPair } from './keys.js';
import { commonName } from './x509.js';

/** Control restarts re-issue well before this runs out (see loadOrCreateServerCertificate). */
export const SERVER_CERT_VALID_DAYS = 825;

const DNS_LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const DNS_NAME_RE = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);

/** One SAN entry: an IP address (type 7) or a DNS name (type 2). */
type AltName = { type: 7; ip: string } | { type: 2; value: string };

/** forge's own IP encoder (untyped in @types/node-forge), so comparisons match what it writes. */
const bytesFromIP = (forge.util as unknown as { bytesFromIP(ip: string): string | null }).bytesFromIP;

function altNameFor(name: string): AltName {
  if (isIP(name) !== 0) {
    // forge encodes only plain addresses; an IPv6 zone ("fe80::1%eth0") has no place in a SAN.
    if (bytesFromIP(name) === null) throw new FerryError('Pki.Invalid', `server name '${name}' is an IP address forge cannot encode`);
    return { type: 7, ip: name };
  }
  if (name.length > 253 || !DNS_NAME_RE.test(name)) throw new FerryError('Pki.Invalid', `server name '${name}' is neither a DNS name nor an IP address`);
  return { type: 2, value: name };
}

/**
 * A stable comparison key for a SAN entry, so "::1" matches "0:0:0:0:0:0:0:1" and DNS names
 * match case-insensitively and with or without a trailing dot.
 */
export function nameKey(name: string): string {
  if (isIP(name) !== 0) {
    const bytes = bytesFromIP(name);
    if (bytes !== null) return `ip:${Buffer.from(bytes, 'binary').toString('hex')}`;
  }
  return `dns:${name.toLowerCase().replace(/\.$/, '')}`;
}

/** Comparison keys of every DNS/IP SAN in a parsed certificate. */
export function certNameKeys(cert: forge.pki.Certificate): Set<string> {
  const keys = new Set<string>();
  const ext = cert.getExtension('subjectAltName') as { altNames?: { type: number; value: string }[] } | undefined;
  for (const alt of ext?.altNames ?? []) {
    if (alt.type === 7) keys.add(`ip:${Buffer.from(alt.value, 'binary').toString('hex')}`);
    else if (alt.type === 2) keys.add(`dns:${alt.value.toLowerCase().replace(/\.$/, '')}`);
  }
  return keys;
}

/** Server cert for TLS: SAN with each name (DNS names, or IP addresses detected with net.isIP), serverAuth+clientAuth EKU. */
export function issueServerCertificate(ca: CertAndKey, names: string[], validDays: number = SERVER_CERT_VALID_DAYS): CertAndKey {
  if (names.length === 0) throw new FerryError('Pki.Invalid', 'a server certificate needs at least one DNS name or IP address');
  const altNames = names.map(altNameFor);
  const issuer = loadIssuer(ca);
  const keys = generateKeyPair();
  const first = names[0] ?? '';
  const { certPem } = issueEndEntity(issuer, {
    publicKey: forge.pki.publicKeyFromPem(keys.publicKeyPem),
    // Clients match the SAN, never the CN (RFC 6125); the CN is only for humans reading logs.
    subject: commonName(first.length <= 64 ? first : 'Ferry control'),
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames },
    ],
    validDays,
  });
  return { certPem, keyPem: keys.privateKeyPem };
}
