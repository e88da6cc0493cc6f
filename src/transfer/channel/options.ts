import type { Socket } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { FerryError } from '../../common/errors.js';

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

/**
 * A session's expectation with its data-channel mode. `clear` (encrypt_data false): streams
 * 1..streams-1 are plain TCP, joined by proving keys derived from the control stream's TLS
 * session (clear-keys.ts), and their frames carry MACs; stream 0 is mutual TLS either way.
 * Without it every stream is TLS, and the sockets come back typed as such.
 */
export type ChannelExpectation = SessionExpectation & { clear?: boolean };

/** Catches caller mistakes (zero streams, an empty secret) before any connection is made. */
export function checkExpectation(exp: ChannelExpectation): void {
  if (!Number.isInteger(exp.streams) || exp.streams < 1 || exp.streams > MAX_STREAMS) {
    throw new FerryError('ClientError.BadRequest', `a session has 1 to ${MAX_STREAMS} streams, not ${exp.streams}`);
  }
  if (typeof exp.secret !== 'string' || exp.secret.length < MIN_SECRET_CHARS) {
    throw new FerryError('ClientError.BadRequest', `session secret must have at least ${MIN_SECRET_CHARS} characters`);
  }
  if (exp.clear === true && exp.streams < 2) {
    throw new FerryError('ClientError.BadRequest', 'a clear-text session needs at least one data stream besides the control stream');
  }
}

/** DataHello allows stream indexes 0..63. */
export const MAX_STREAMS = 64;
/** SessionSpec secrets are at least 32 base64url characters; refuse anything weaker outright. */
export const MIN_SECRET_CHARS = 32;
/** A HELLO is a few hundred bytes; anything bigger before authentication is refused unread. */
export const HANDSHAKE_MAX_PAYLOAD = 4096;
/** Per phase (TLS handshake, then HELLO/HELLO_OK) on one connection. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long a session waits for all its connections (listener) or to dial them (dialer). */
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** RFC 5705/8446 exporter label: the proof is bound to keying material only this connection has. */
export const EXPORTER_LABEL = 'ferry-data-session';
export const EXPORTER_BYTES = 32;
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
  };
}

/**
 * Latency over coalescing: data frames are already large, and small control frames must not
 * wait for Nagle. Socket buffers: the kernel's are left to Linux autotuning (net.ipv4.tcp_rmem
 * / tcp_wmem; setting SO_SNDBUF/SO_RCVBUF would switch autotuning off, and Node cannot set them
 * on TCP anyway). Node's stream high-water marks stay at their default because tls.Server
 * offers no way to raise them on accepted sockets, and both roles should behave alike; the
 * session layer keeps a long fat pipe full by writing large frames and honouring 'drain'.
 */
export function tuneSocket(socket: Socket): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
}
