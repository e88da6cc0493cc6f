import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { FerryError } from '../common/errors.js';

/**
 * Who an agent certificate names, read with node:crypto alone: a running agent checks every
 * peer's certificate, and loading node-forge (issuing, CSRs: control and `agent setup` only)
 * for that cost the agent's process about 10 MB of memory for as long as it ran.
 */

export const NODE_URN_PREFIX = 'urn:ferry:node:';
export const ENDPOINT_URN_PREFIX = 'urn:ferry:endpoint:';

/**
 * Node and endpoint ids are UUIDs in practice; this looser pattern keeps them safe inside a
 * URN and a 64-character CN without tying the PKI to one id format.
 */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;

export interface AgentIdentity { nodeId: string; endpointId: string }

/**
 * Reads the urn:ferry:node / urn:ferry:endpoint SAN URIs; null if absent, unreadable, or
 * ambiguous (more than one of either). Accepts PEM or DER (`getPeerCertificate().raw`).
 * This says nothing about who signed the certificate: pair it with TLS verification or isIssuedBy.
 */
export function parseAgentIdentity(cert: string | Buffer): AgentIdentity | null {
  let san: string | undefined;
  try {
    san = new X509Certificate(cert).subjectAltName;
  } catch {
    return null;
  }
  const names = san === undefined ? [] : parseSubjectAltName(san);
  if (names === null) return null;
  const uris = names.filter((n) => n.type === 'URI').map((n) => n.value);
  const nodeIds = idsWithPrefix(uris, NODE_URN_PREFIX);
  const endpointIds = idsWithPrefix(uris, ENDPOINT_URN_PREFIX);
  if (nodeIds.length !== 1 || endpointIds.length !== 1) return null;
  const [nodeId] = nodeIds;
  const [endpointId] = endpointIds;
  if (nodeId === undefined || endpointId === undefined || !ID_RE.test(nodeId) || !ID_RE.test(endpointId)) return null;
  return { nodeId, endpointId };
}

/**
 * Node's text form of the SAN extension: `TYPE:value` entries joined by ", ", where a value
 * holding a comma, quote or other special character is written as a JSON string (so an entry
 * cannot pass for two). Anything else in that text makes the whole certificate unreadable
 * (null), never a partial list.
 */
export function parseSubjectAltName(text: string): Array<{ type: string; value: string }> | null {
  const out: Array<{ type: string; value: string }> = [];
  let at = 0;
  while (at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) return null;
    const type = text.slice(at, colon);
    if (!/^[A-Za-z ]+$/.test(type)) return null;
    at = colon + 1;
    let value: string;
    if (text[at] === '"') {
      const end = closingQuote(text, at);
      if (end < 0) return null;
      try {
        value = JSON.parse(text.slice(at, end + 1)) as string;
      } catch {
        return null;
      }
      at = end + 1;
    } else {
      const comma = text.indexOf(', ', at);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(at, end);
      // Node quotes any value with a comma, quote or backslash: unquoted, one is not Node's text.
      if (/[,"\\]/.test(value)) return null;
      at = end;
    }
    out.push({ type, value });
    if (at === text.length) break;
    if (!text.startsWith(', ', at)) return null;
    at += 2;
  }
  return out;
}

/** Index of the quote closing the JSON string that opens at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  for (let k = start + 1; k < text.length; k++) {
    if (text[k] === '\\') k += 1;
    else if (text[k] === '"') return k;
  }
  return -1;
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
