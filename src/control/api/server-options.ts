import type { ServerOptions } from 'node:https';

/**
 * How control's HTTPS server (REST API and agent WebSocket on one port) protects itself: TLS
 * policy, and limits on slow, idle and too many connections. Every value is a named default
 * that control's config (`http.*`) overrides (STYLE §11).
 */
export interface HttpLimits {
  /** A client must send a request's headers within this (slow-loris). Node: server.headersTimeout. */
  headersTimeoutMs: number;
  /** A client must send a whole request within this. Node: server.requestTimeout. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Node: server.keepAliveTimeout. */
  keepAliveTimeoutMs: number;
  /** A TLS handshake must complete within this (Node's default is 120 s). */
  tlsHandshakeTimeoutMs: number;
  /** Open connections, agent links included; more are closed on accept. Node: server.maxConnections. */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  // Longer than the idle timeouts of common load balancers (60 s), as fastify's default.
  keepAliveTimeoutMs: 72_000,
  tlsHandshakeTimeoutMs: 10_000,
  maxConnections: 1000,
});

/** TLS 1.2 is the oldest version control speaks. */
export const TLS_MIN_VERSION = 'TLSv1.2';

/**
 * Forward-secret AEAD suites only: the TLS 1.3 suites (all are), and for TLS 1.2 ECDHE with
 * AES-GCM or ChaCha20-Poly1305 (Mozilla's "intermediate" list without DHE). No static-RSA key
 * exchange, no CBC, no SHA-1 MACs. ECDSA suites serve admin-supplied EC certificates.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * How often Node looks for requests past headersTimeout/requestTimeout. Its default (30 s) would
 * let a slow-loris live up to 30 s past a short timeout, so check at a quarter of the shorter
 * one, within [50 ms, 30 s].
 */
export function connectionsCheckingIntervalMs(limits: Pick<HttpLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>): number {
  return Math.max(50, Math.min(30_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** Options for https.createServer: certificates, TLS policy, handshake and header timeouts. */
export function httpsServerOptions(tls: { key: string; cert: string; ca: string }, limits: HttpLimits): ServerOptions {
  return {
    key: tls.key, cert: tls.cert, ca: [tls.ca],
    // Client certificates are requested but optional at the TLS layer (people and SDKs have
    // none); the agent hub checks them on the link upgrade.
    requestCert: true, rejectUnauthorized: false,
    minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERS, honorCipherOrder: true,
    handshakeTimeout: limits.tlsHandshakeTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
  };
}
