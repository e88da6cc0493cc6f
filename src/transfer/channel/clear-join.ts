import net, { type Socket } from 'node:net';
import { FerryError } from '../../common/errors.js';
import {
  ClearChallenge, ClearHello, ClearProof, DATA_MAGIC, DATA_PROTOCOL_VERSION, HandshakeFrameType,
} from '../../protocol/frames.js';
import { encodeJsonFrame } from '../wire/frame-codec.js';
import { joinProof, newNonce, recordJoin } from './clear-keys.js';
import { hexProofsMatch } from './proof.js';
import { checkHelloReply, classifySocketError, readFirstFrame, parseHandshakeJson } from './handshake-io.js';
import { tuneSocket, type ChannelExpectation } from './options.js';

/**
 * Joining a clear-text data stream to its session (encrypt_data false). The stream is plain
 * TCP, so the TLS certificate check that guards every other connection is replaced by proof of
 * keys only the two TLS-authenticated ends of the session's control stream hold:
 *   dialer   -> CLEAR_HELLO {session, stream index, dialer nonce}
 *   listener -> CLEAR_CHALLENGE {listener nonce, listener proof}
 *   dialer   -> CLEAR_PROOF {dialer proof}
 *   listener -> HELLO_OK (or ERROR)
 * Each proof covers both nonces, the session and the stream index: a recorded exchange is
 * worthless on any other connection, and the dialer learns the listener is genuine before it
 * sends anything of its own.
 */

/** Dial one clear stream; resolves once the listener accepted it (HELLO_OK). */
export function dialClearStream(
  target: { host: string; port: number }, exp: ChannelExpectation, index: number, secret: Buffer, signal: AbortSignal,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = net.connect({ host: target.host, port: target.port });
    const fail = (err: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      socket.on('error', () => undefined);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(signal.reason);
    const onEarlyError = (err: Error): void => fail(classifySocketError(err, `while connecting clear stream ${index}`));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onEarlyError);
    socket.once('connect', () => {
      socket.off('error', onEarlyError);
      signal.removeEventListener('abort', onAbort);
      tuneSocket(socket);
      const dialerNonce = newNonce();
      const hello: ClearHello = {
        magic: DATA_MAGIC, version: DATA_PROTOCOL_VERSION, sessionId: exp.sessionId, streamIndex: index, streams: exp.streams, nonce: dialerNonce,
      };
      socket.write(encodeJsonFrame(HandshakeFrameType.CLEAR_HELLO, hello));
      const what = `clear stream ${index}`;
      let challengeNonce = '';
      readFirstFrame(socket, { what: `CLEAR_CHALLENGE for ${what}`, signal })
        .then((frame) => {
          const challenge = parseHandshakeJson(frame, HandshakeFrameType.CLEAR_CHALLENGE, ClearChallenge, 'CLEAR_CHALLENGE');
          challengeNonce = challenge.nonce;
          const expected = joinProof(secret, 'listener', exp.sessionId, index, dialerNonce, challenge.nonce);
          if (!hexProofsMatch(expected, challenge.proof)) {
            throw new FerryError('Channel.PeerRejected', `the listener of ${what} did not prove the session's clear-stream key`);
          }
          const proof: ClearProof = { proof: joinProof(secret, 'dialer', exp.sessionId, index, dialerNonce, challenge.nonce) };
          socket.write(encodeJsonFrame(HandshakeFrameType.CLEAR_PROOF, proof));
          return readFirstFrame(socket, { what: `HELLO_OK for ${what}`, signal });
        })
        .then((frame) => {
          checkHelloReply(frame);
          recordJoin(socket, dialerNonce, challengeNonce);
          resolve(socket);
        })
        .catch(fail);
    });
  });
}

/**
 * Listener side, after a valid CLEAR_HELLO for a clear session whose control stream is in:
 * challenge, then check the dialer's proof. Throws Channel.PeerRejected on a wrong proof; the
 * caller answers HELLO_OK or the refusal.
 */
export async function answerClearJoin(socket: Socket, hello: ClearHello, secret: Buffer, timeoutMs: number): Promise<void> {
  const listenerNonce = newNonce();
  const challenge: ClearChallenge = {
    nonce: listenerNonce,
    proof: joinProof(secret, 'listener', hello.sessionId, hello.streamIndex, hello.nonce, listenerNonce),
  };
  socket.write(encodeJsonFrame(HandshakeFrameType.CLEAR_CHALLENGE, challenge));
  const frame = await readFirstFrame(socket, { what: 'CLEAR_PROOF', timeoutMs });
  const { proof } = parseHandshakeJson(frame, HandshakeFrameType.CLEAR_PROOF, ClearProof, 'CLEAR_PROOF');
  const expected = joinProof(secret, 'dialer', hello.sessionId, hello.streamIndex, hello.nonce, listenerNonce);
  if (!hexProofsMatch(expected, proof)) {
    throw new FerryError('Channel.PeerRejected', `wrong clear-stream proof for stream ${hello.streamIndex} of session ${hello.sessionId}`);
  }
  recordJoin(socket, hello.nonce, listenerNonce);
}
