import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { EXPORTER_BYTES, EXPORTER_LABEL } from './options.js';

/**
 * HMAC-SHA256(secret, exported keying material) in lower-case hex. Both ends of one TLS
 * connection export the same bytes and no other connection does, so a proof seen (or
 * computed) on one connection is worthless on another: the secret itself never crosses the wire.
 */
export function sessionProof(secret: string, socket: TLSSocket): string {
  // TLS 1.3 defines no context and an empty context as the same exporter (RFC 8446 §7.5).
  const ekm = socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
  return createHmac('sha256', secret).update(ekm).digest('hex');
}

/** Constant-time check of a dialer's proof against this connection's keying material. */
export function proofMatches(secret: string, socket: TLSSocket, proof: string): boolean {
  return hexProofsMatch(sessionProof(secret, socket), proof);
}

/** Constant-time comparison of two hex proofs (the session proof here, the clear-stream join proofs in clear-join.ts). */
export function hexProofsMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(given, 'hex');
  // The schemas already pin proofs to 64 hex digits; the length check keeps timingSafeEqual from throwing anyway.
  return a.length === b.length && timingSafeEqual(a, b);
}
