/**
 * Ferry's PKI: the control CA, control's TLS server certificate, agent certificates issued
 * from CSRs, fingerprints and setup keys. Keys come from node:crypto; certificates and CSRs
 * are built and checked with node-forge (RSA only); node:tls does the handshakes.
 */
export { generateKeyPair, DEFAULT_KEY_BITS, CA_KEY_BITS, MIN_KEY_BITS, type KeyPairPem } from './keys.js';
export { createCa, CA_VALID_DAYS, type CertAndKey, type CreateCaOptions } from './ca.js';
export { issueServerCertificate, SERVER_CERT_VALID_DAYS } from './server-cert.js';
export { createCsr, MAX_CSR_CHARS } from './csr.js';
export {
  signAgentCsr, parseAgentIdentity, agentIdentityCheck, AGENT_CERT_VALID_DAYS, NODE_URN_PREFIX, ENDPOINT_URN_PREFIX,
  type AgentIdentity, type IssuedAgentCertificate,
} from './agent-cert.js';
export { certFingerprint } from './fingerprint.js';
export { isIssuedBy } from './verify.js';
export { certToDer } from './x509.js';
export { encodeSetupKey, decodeSetupKey } from './setup-key.js';
export {
  loadOrCreateCa, loadOrCreateServerCertificate, serverCertProblem,
  CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE, SERVER_CERT_RENEW_BEFORE_MS,
} from './store.js';
export { writePrivateFile, writePublicFile, writeFileAtomic, ensurePrivateDir } from './files.js';
export type { SetupKeyPayload } from '../protocol/setup-key.js';
