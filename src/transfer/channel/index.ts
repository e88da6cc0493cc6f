/**
 * Agent <-> agent data channel: mutually authenticated TLS 1.3 connections for one transfer
 * session. The reachable agent runs a DataListener on its data port range and expects the
 * session; the other dials it with dialSession. Either way each side ends up with the
 * session's sockets ordered by stream index (0 = control stream), past the handshake and
 * with no session bytes consumed. A clear-text session (encrypt_data false) keeps stream 0 on
 * mutual TLS and joins its data streams over plain TCP with keys exported from it.
 */
export { DataListener, type DataListenerOptions } from './listener.js';
export { dialSession, parseAddress } from './dialer.js';
export { clearStreamKeys, type StreamMacKeys } from './clear-keys.js';
export { applyCongestion, congestionPlan, expectedCongestion, planCongestion, tcpInfoOf } from './congestion.js';
export type { CongestionPlan, CongestionResult } from './congestion.js';
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS, HANDSHAKE_MAX_PAYLOAD,
  type ChannelCredentials, type ChannelExpectation, type SessionExpectation,
} from './options.js';
