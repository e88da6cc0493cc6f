import { FerryError } from '../common/errors.js';
import type { CertAndKey } from './ca.js';
import { readVerifiedCsr } from './csr.js';
import { certFingerprint } from './fingerprint.js';
import { issueEndEntity, loadIssuer } from './issuer.js';
import { commonName } from './x509.js';
import { ENDPOINT_URN_PREFIX, ID_RE, NODE_URN_PREFIX, type AgentIdentity } from './agent-identity.js';

export { NODE_URN_PREFIX, ENDPOINT_URN_PREFIX, parseAgentIdentity, agentIdentityCheck, type AgentIdentity } from './agent-identity.js';

/** Agents have no renewal yet, so their certificates last as long as the server's. */
export const AGENT_CERT_VALID_DAYS = 825;

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
