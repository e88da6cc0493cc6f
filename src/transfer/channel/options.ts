import type { ConnectionOptions, TLSSocket, TlsOptions } from 'node:tls';

/** This agent's control-issued identity, all PEM. `nodeId` is the node its certificate names. */
export interface ChannelCredentials {
  ca: string;
  cert: string;
  key: string;
  nodeId: string;
}

/** What control told this agent about one session's data connections (from session.open). */
export interface SessionExpectation {
  sessionId: string;
  /** The only node allowed at the other end of every connection of this session. */
  peerNodeId: string;
  /** One-time session secret; the HMAC key of the dialer's proof (its UTF-8 bytes). */
  secret: string;
  /** Connections in the session: index 0 is the control stream, 1..streams-1 carry data. */
  streams: number;
}

/** A HELLO is a few hundred bytes; anything bigger before authentication is refused unread. */
export const HANDSHAKE_MAX_PAYLOAD = 4096;
/** Per phase (TLS handshake, then HELLO/HELLO_OK) on one connection. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a session waits for all its connections (listener) or to dial them (dialer). */
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** RFC 5705/8446 exporter label: the proof is bound to keying material only this connection has. */
export const EXPORTER_LABEL = 'ferry-data-session';
export const EXPORTER_BYTES = 32;
/**
 * Stream buffers per direction. Node's 16 KiB default makes a writer stop and wait for
 * 'drain' every 16 KiB; a few MiB lets a chunk writer keep a long fat pipe full. The kernel
 * socket buffers are left to Linux autotuning (setting SO_SNDBUF would switch it off).
 */
export const SOCKET_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Keepalive so a NAT in front of a laptop does not forget a data connection idle during a long checksum. */
export const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

/**
 * TLS options both roles share: TLS 1.3 only (the exporter and its binding are defined
 * there), the control CA as the only trust anchor, and our agent certificate.
 */
export function baseTlsOptions(creds: ChannelCredentials): TlsOptions & ConnectionOptions {
  return {
    ca: [creds.ca],
    cert: creds.cert,
    key: creds.key,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    highWaterMark: SOCKET_HIGH_WATER_MARK,
  };
}

/** Latency over coalescing: frames are already large, and small control frames must not wait 40 ms. */
export function tuneSocket(socket: TLSSocket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
}
