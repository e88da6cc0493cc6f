import { Type, type Static } from '@sinclair/typebox';

/**
 * Agent <-> agent data channel framing: every frame is
 *   [u32 big-endian payload length][u8 frame type][payload]
 * Types below 0x10 belong to the connection handshake (this file); 0x10 and up belong to the
 * transfer session (src/protocol/data-frames.ts). JSON payloads are validated against their
 * schema; binary payloads are parsed with explicit bounds checks.
 */
export const FRAME_HEADER_BYTES = 5;
/** Largest payload either side accepts; a bigger length prefix is a protocol error. */
export const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024 + 4096;
export const DATA_MAGIC = 'ferry-data';
/**
 * Bumped whenever a session frame's schema changes in a way the other version would refuse
 * (schemas are closed): mixed agents then fail with Channel.VersionMismatch, not a protocol
 * error mid-session. 2: directory entries carry mtimeMs, INVALID_PATH_NAME is skippable.
 * 3: clear-text streams' frame MAC is AES-256-GMAC (16 bytes) instead of keyed BLAKE3 (32).
 */
export const DATA_PROTOCOL_VERSION = 3;

export const HandshakeFrameType = {
  HELLO: 0x01,
  HELLO_OK: 0x02,
  ERROR: 0x03,
  /** Dialer -> listener, first frame of a clear-text data stream (plain TCP, encrypt_data false). */
  CLEAR_HELLO: 0x04,
  /** Listener -> dialer: its nonce and its proof that it holds the session's clear-stream key. */
  CLEAR_CHALLENGE: 0x05,
  /** Dialer -> listener: the dialer's proof over both nonces; HELLO_OK or ERROR follows. */
  CLEAR_PROOF: 0x06,
} as const;

/**
 * First frame on every data connection, sent by the dialing side. `proof` is
 * HMAC-SHA256(secret, TLS exported keying material) in hex: it shows the dialer knows the
 * session secret and binds that proof to this very TLS connection (no replay elsewhere).
 */
export const DataHello = Type.Object({
  magic: Type.Literal(DATA_MAGIC),
  version: Type.Integer({ minimum: 1, maximum: 1000 }),
  sessionId: Type.String({ format: 'uuid' }),
  /** 0 is the session's control stream; 1..streams-1 carry data. */
  streamIndex: Type.Integer({ minimum: 0, maximum: 63 }),
  streams: Type.Integer({ minimum: 1, maximum: 64 }),
  proof: Type.String({ pattern: '^[0-9a-f]{64}$' }),
}, { additionalProperties: false });
export type DataHello = Static<typeof DataHello>;

export const DataError = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 128 }),
  message: Type.String({ maxLength: 4096 }),
}, { additionalProperties: false });
export type DataError = Static<typeof DataError>;

const Nonce = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Proof = Type.String({ pattern: '^[0-9a-f]{64}$' });

/**
 * First frame of a clear-text data stream (a session with encrypt_data false): plain TCP, so
 * it proves nothing by itself. The stream joins only after both sides showed, over both
 * nonces, the stream index and the session id, a key derived from the keying material
 * exported by the session's mutually authenticated TLS control stream (channel/clear-keys.ts).
 * Its first byte is 0x00 (a length below 2^24), never TLS's 0x16: the listener tells the two
 * apart on one port.
 */
export const ClearHello = Type.Object({
  magic: Type.Literal(DATA_MAGIC),
  version: Type.Integer({ minimum: 1, maximum: 1000 }),
  sessionId: Type.String({ format: 'uuid' }),
  /** Clear streams carry data only: 1..streams-1. */
  streamIndex: Type.Integer({ minimum: 1, maximum: 63 }),
  streams: Type.Integer({ minimum: 2, maximum: 64 }),
  nonce: Nonce,
}, { additionalProperties: false });
export type ClearHello = Static<typeof ClearHello>;

export const ClearChallenge = Type.Object({ nonce: Nonce, proof: Proof }, { additionalProperties: false });
export type ClearChallenge = Static<typeof ClearChallenge>;

export const ClearProof = Type.Object({ proof: Proof }, { additionalProperties: false });
export type ClearProof = Static<typeof ClearProof>;
