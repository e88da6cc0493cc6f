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

/** One SAN entry: an IP address (type 7, raw bytes) or a DNS name (type 2). */
type AltName = { type: 7; value: string } | { type: 2; value: string };

/**
 * The 4 or 16 bytes of an IP address, or null if `name` is not one. forge's own encoder
 * mis-handles "::ffff:1.2.3.4" and zone ids, so Ferry encodes SAN addresses itself.
 */
export function ipToBytes(name: string): Buffer | null {
  const family = isIP(name);
  if (family === 4) return Buffer.from(name.split('.').map(Number));
  // A zone id ("fe80::1%eth0") only means something on one host; it has no place in a SAN.
  if (family !== 6 || name.includes('%')) return null;
  let text = name;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Embedded IPv4 tail ("::ffff:1.2.3.4"): turn it into the two hex groups it stands for.
    const [a = 0, b = 0, c = 0, d = 0] = text.slice(lastColon + 1).split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const zeros = halves.length > 1 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(zeros, 0)).fill('0'), ...tail];
  if (groups.length !== 8) return null;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return bytes;
}

function altNameFor(name: string): AltName {
  if (isIP(name) !== 0) {
    const bytes = ipToBytes(name);
    if (bytes === null) throw new FerryError('Pki.Invalid', `server name '${name}' is an IP address with a zone id, which a certificate cannot name`);
    return { type: 7, value: bytes.toString('binary') };
  }
  if (name.length > 253 || !DNS_NAME_RE.test(name)) throw new FerryError('Pki.Invalid', `server name '${name}' is neither a DNS name nor an IP address`);
  return { type: 2, value: name };
}

/**
 * A stable comparison key for a SAN entry, so "::1" matches "0:0:0:0:0:0:0:1" and DNS names
 * match case-insensitively and with or without a trailing dot.
 */
export function nameKey(name: string): string {
  const bytes = ipToBytes(name);
  if (bytes !== null) return `ip:${bytes.toString('hex')}`;
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
