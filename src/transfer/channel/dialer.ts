import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { FerryError, isFerryError } from '../../common/errors.js';
import { agentIdentityCheck } from '../../pki/agent-identity.js';
import { encodeJsonFrame } from '../wire/frame-codec.js';
import { DATA_MAGIC, DATA_PROTOCOL_VERSION, HandshakeFrameType, type DataHello } from '../../protocol/frames.js';
import { checkHelloReply, classifySocketError, readFirstFrame } from './handshake-io.js';
import { baseTlsOptions, checkExpectation, DEFAULT_SESSION_TIMEOUT_MS, tuneSocket, type ChannelCredentials, type ChannelExpectation, type SessionExpectation } from './options.js';
import { sessionProof } from './proof.js';
import { StreamSet } from './stream-set.js';
import { clearSessionSecret } from './clear-keys.js';
import { dialClearStream } from './clear-join.js';

/**
 * Dial `address` (host:port, IPv6 as [addr]:port) with `exp.streams` connections in
 * parallel; resolves with them ordered by stream index once the listener accepted every
 * one. The side that cannot be reached (a laptop behind NAT) always dials, whichever way
 * the data then flows, so nothing here depends on the direction. One refused or broken
 * connection fails the whole dial and closes the others: retrying is the session's call.
 * A clear session (exp.clear) dials its TLS control stream first, then its plain-TCP data
 * streams, which join with keys exported from it (clear-join.ts).
 */
export function dialSession(creds: ChannelCredentials, address: string, exp: SessionExpectation & { clear?: false }, opts?: DialOptions): Promise<TLSSocket[]>;
export function dialSession(creds: ChannelCredentials, address: string, exp: ChannelExpectation, opts?: DialOptions): Promise<Socket[]>;
export function dialSession(creds: ChannelCredentials, address: string, exp: ChannelExpectation, opts: DialOptions = {}): Promise<Socket[]> {
  let target: { host: string; port: number };
  try {
    target = parseAddress(address);
    checkExpectation(exp);
  } catch (err) {
    return Promise.reject(err);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  const set = new StreamSet(exp.streams, {
    timeoutMs,
    timeoutMessage: `dialing session ${exp.sessionId} at ${address}`,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (exp.clear === true) {
    // The clear streams' keys come from the control stream's TLS session: it goes first.
    dialStream(creds, target, exp, 0, set.signal).then((control) => {
      set.put(0, control);
      if (set.isSettled) return;
      const secret = clearSessionSecret(control, exp.sessionId);
      for (let index = 1; index < exp.streams; index += 1) {
        dialClearStream(target, exp, index, secret, set.signal).then((socket) => set.put(index, socket), (err: unknown) => set.fail(err));
      }
    }).catch((err: unknown) => set.fail(err));
    return set.done;
  }
  for (let index = 0; index < exp.streams; index += 1) {
    dialStream(creds, target, exp, index, set.signal).then((socket) => set.put(index, socket), (err: unknown) => set.fail(err));
  }
  return set.done;
}

interface DialOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One connection: TLS (the listener must be exactly `exp.peerNodeId`), HELLO, then HELLO_OK or a refusal. */
function dialStream(
  creds: ChannelCredentials, target: { host: string; port: number }, exp: SessionExpectation, index: number, signal: AbortSignal,
): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = tls.connect({
      ...baseTlsOptions(creds),
      host: target.host,
      port: target.port,
      // Agent certificates name a node, not a host: the chain is checked against control's CA, the node here.
      checkServerIdentity: agentIdentityCheck(exp.peerNodeId),
    });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    const onEarlyError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(classifySocketError(err, `while connecting stream ${index}`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onEarlyError);
    socket.once('secureConnect', () => {
      socket.off('error', onEarlyError);
      signal.removeEventListener('abort', onAbort);
      try {
        tuneSocket(socket);
        const hello: DataHello = {
          magic: DATA_MAGIC,
          version: DATA_PROTOCOL_VERSION,
          sessionId: exp.sessionId,
          streamIndex: index,
          streams: exp.streams,
          proof: sessionProof(exp.secret, socket),
        };
        socket.write(encodeJsonFrame(HandshakeFrameType.HELLO, hello));
      } catch (err) {
        socket.on('error', () => undefined);
        socket.destroy();
        reject(classifySocketError(err as Error, `sending HELLO on stream ${index}`));
        return;
      }
      readFirstFrame(socket, { what: `HELLO_OK for stream ${index}`, signal }).then((frame) => {
        checkHelloReply(frame);
        resolve(socket);
      }, (err: unknown) => {
        // The listener refuses a certificate it cannot chain to control's CA by closing, without a word.
        if (isFerryError(err) && err.code === 'Channel.Closed' && !signal.aborted) {
          throw new FerryError('Channel.Closed', `${err.message}: the listener closed without answering (it may not accept this agent's certificate)`, { cause: err });
        }
        throw err;
      }).catch((err: unknown) => {
        // Keep a late reset from surfacing as an unhandled 'error' on a socket nobody owns.
        socket.on('error', () => undefined);
        socket.destroy();
        reject(err);
      });
    });
  });
}

/** "host:port" or "[v6addr]:port". */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FerryError('ClientError.BadRequest', `data address '${address}' is not host:port`);
  }
  return { host, port };
}
