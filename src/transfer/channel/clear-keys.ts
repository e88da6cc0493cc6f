import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { FerryError } from '../../common/errors.js';

/**
 * Keys of a clear-text session (encrypt_data false). Everything hangs off 32 bytes exported
 * (RFC 5705/8446) from the session's control stream: a mutually authenticated TLS 1.3
 * connection between exactly the two nodes control paired, so only they can compute them, and
 * no other connection (of this session or another) exports the same bytes. The session id is
 * the exporter context, so the material is also bound to this session by name. From it, by
 * HKDF-SHA256 with distinct labels: the join key (a clear stream proves it belongs to the
 * session, challenge-response over both sides' nonces) and one frame-MAC key per stream and
 * direction (a frame cannot be moved to another stream, or reflected back to its sender). The
 * frame-MAC keys are bound to the stream's connection too, through both nonces of its join:
 * the MAC (AES-GMAC) takes the frame's sequence number as its nonce, which must never repeat
 * under one key, and a connection's keys are then its own by construction, whatever the rest
 * of the channel does (the listener also refuses a second connection for a stream index).
 * Nothing here is ever logged.
 */
export const CLEAR_EXPORTER_LABEL = 'EXPORTER-ferry-clear-data';
const SECRET_BYTES = 32;
export const NONCE_BYTES = 32;

export type JoinSide = 'dialer' | 'listener';

/** The per-session secret both ends of the TLS control stream share. */
export function clearSessionSecret(control: TLSSocket, sessionId: string): Buffer {
  return control.exportKeyingMaterial(SECRET_BYTES, CLEAR_EXPORTER_LABEL, Buffer.from(sessionId, 'utf8'));
}

function derive(secret: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

/**
 * One side's proof for joining clear stream `index`: HMAC over who proves (so the listener's
 * proof cannot be echoed back as the dialer's), the session, the stream and both nonces (so no
 * proof seen on the wire works on another connection).
 */
export function joinProof(secret: Buffer, side: JoinSide, sessionId: string, index: number, dialerNonce: string, listenerNonce: string): string {
  return createHmac('sha256', derive(secret, 'ferry clear join'))
    .update(`${side}\n${sessionId}\n${index}\n${dialerNonce}\n${listenerNonce}`)
    .digest('hex');
}

/** Both nonces of each clear stream's join (clear-join.ts), by its socket. */
const joins = new WeakMap<object, { dialerNonce: string; listenerNonce: string }>();

/** A clear stream's join succeeded with these nonces (both ends record the same two). */
export function recordJoin(socket: object, dialerNonce: string, listenerNonce: string): void {
  joins.set(socket, { dialerNonce, listenerNonce });
}

/** A clear stream's frame-MAC keys: `send` for frames this side writes, `receive` for frames it reads. */
export interface StreamMacKeys {
  send: Buffer;
  receive: Buffer;
}

/**
 * The frame-MAC keys of every stream of a clear session, by stream index: null for stream 0
 * (the control stream stays on TLS, `streams[0]`). `dialed`: this side dialed the session.
 * Every other stream must have joined through clear-join.ts (its nonces recorded).
 */
export function clearStreamKeys(sessionId: string, dialed: boolean, streams: readonly [TLSSocket, ...object[]]): Array<StreamMacKeys | null> {
  const secret = clearSessionSecret(streams[0], sessionId);
  const keys: Array<StreamMacKeys | null> = [null];
  for (let index = 1; index < streams.length; index += 1) {
    const join = joins.get(streams[index]!);
    if (join === undefined) throw new FerryError('Channel.BadHandshake', `clear stream ${index} of session ${sessionId} did not join through the clear-stream handshake`);
    const connection = `${index} ${join.dialerNonce} ${join.listenerNonce}`;
    const fromDialer = derive(secret, `ferry clear frames dialer->listener ${connection}`);
    const fromListener = derive(secret, `ferry clear frames listener->dialer ${connection}`);
    keys.push(dialed ? { send: fromDialer, receive: fromListener } : { send: fromListener, receive: fromDialer });
  }
  return keys;
}
