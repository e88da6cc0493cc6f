import type { PeerCertificate } from 'node:tls';
import { FerryError } from '../common/errors.js';
import type { CertAndKey } from './ca.js';
import { readVerifiedCsr } from './csr.js';
import { certFingerprint } from './fingerprint.js';
import { issueEndEntity, loadIssuer } from './issuer.js';
import { commonName, parseCertificate } from './x509.js';

export const NODE_URN_PREFIX = 'urn:ferry:node:';
export const ENDPOINT_URN_PREFIX = 'urn:ferry:endpoint:';
/** Agents have no renewal yet, so their certificates last as long as the server's. */
export const AGENT_CERT_VALID_DAYS = 825;

/**
 * Node and endpoint ids are UUIDs in practice; this looser pattern keeps them safe inside a
 * URN and a 64-character CN without tying the PKI to one id format.
 */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

export interface AgentIdentity { nodeId: string; endpointId: string }

export interface IssuedAgentCertificate { certPem: string; serial: string; fingerprint: string; notAfter: Date }

/**
 * Verifies the CSR's self-signature; issues a client+server cert (agents also listen for
 * peer data connections) whose SAN URIs are urn:ferry:node:<nodeId> and
 * urn:ferry:endpoint:<endpointId>, CN=<nodeId>. Throws FerryError('Pki.Invalid') on a bad CSR.
 */
export function signAgentCsr(ca: CertAndKey, csrPem: string, subject: AgentIdentity, validDays: number = AGENT_CERT_VALID_DAYS): IssuedAgentCertificate {
  for (const [what, id] of [['nodeId', subject.nodeId], ['endpointId', subject.endpointId]] as const) {
    if (typeof id !== 'string' || !ID_RE.test(id)) throw new FerryError('Pki.Invalid', `${what} ${JSON.stringify(id)} is not a valid id`);
  }
  const publicKey = readVerifiedCsr(csrPem);
  const issued = issueEndEntity(loadIssuer(ca), {
    publicKey,
    subject: commonName(subject.nodeId),
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [
        { type: 6, value: `${NODE_URN_PREFIX}${subject.nodeId}` },
        { type: 6, value: `${ENDPOINT_URN_PREFIX}${subject.endpointId}` },
      ] },
    ],
    validDays,
  });
  return {
    certPem: issued.certPem,
    serial: issued.serial,
    fingerprint: certFingerprint(issued.certPem),
    notAfter: issued.cert.validity.notAfter,
  };
}

/**
 * Reads the urn:ferry:node / urn:ferry:endpoint SAN URIs; null if absent, unreadable, or
 * ambiguous (more than one of either). Accepts PEM or DER (`getPeerCertificate().raw`).
 * This says nothing about who signed the certificate: pair it with TLS verification or isIssuedBy.
 */
export function parseAgentIdentity(cert: string | Buffer): AgentIdentity | null {
  let altNames: { type: number; value: string }[];
  try {
    const ext = parseCertificate(cert).getExtension('subjectAltName') as { altNames?: { type: number; value: string }[] } | undefined;
    altNames = ext?.altNames ?? [];
  } catch {
    return null;
  }
  const uris = altNames.filter((a) => a.type === 6).map((a) => a.value);
  const nodeIds = idsWithPrefix(uris, NODE_URN_PREFIX);
  const endpointIds = idsWithPrefix(uris, ENDPOINT_URN_PREFIX);
  if (nodeIds.length !== 1 || endpointIds.length !== 1) return null;
  const [nodeId] = nodeIds;
  const [endpointId] = endpointIds;
  if (nodeId === undefined || endpointId === undefined || !ID_RE.test(nodeId) || !ID_RE.test(endpointId)) return null;
  return { nodeId, endpointId };
}

function idsWithPrefix(uris: string[], prefix: string): string[] {
  return uris.filter((u) => u.startsWith(prefix)).map((u) => u.slice(prefix.length));
}

/**
 * A `checkServerIdentity` for agent-to-agent TLS: agent certificates name a node, not a host,
 * so Node's default hostname check would always fail. Use with `ca: [controlCaPem]` so the
 * chain is still verified by OpenSSL; this only checks that the peer is the expected node.
 */
export function agentIdentityCheck(expectedNodeId: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const identity = cert.raw ? parseAgentIdentity(cert.raw) : null;
    if (identity === null) return new FerryError('Agent.CertificateRejected', 'peer certificate names no Ferry node');
    if (identity.nodeId !== expectedNodeId) {
      return new FerryError('Agent.CertificateRejected', `peer is node ${identity.nodeId}, expected ${expectedNodeId}`);
    }
    return undefined;
  };
}
