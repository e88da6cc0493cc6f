import type { Socket } from 'node:net';
import type { Static, TSchema } from '@sinclair/typebox';
import { FerryError, isErrorCode, isFerryError } from '../../common/errors.js';
import { checkSchema } from '../../common/validate.js';
import {
  DATA_MAGIC, DATA_PROTOCOL_VERSION, DataError, DataHello, FRAME_HEADER_BYTES, HandshakeFrameType,
} from '../../protocol/frames.js';
import { encodeFrame, encodeJsonFrame, type Frame } from '../wire/frame-codec.js';
import { HANDSHAKE_MAX_PAYLOAD } from './options.js';

export interface ReadFrameOptions {
  /** Names the awaited frame in errors ("HELLO", "HELLO_OK"). */
  what: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Reads exactly one handshake frame and hands the socket back untouched after it: whatever
 * arrived behind the frame (the peer may start streaming right after HELLO_OK) is unshifted.
 * FrameDecoder would also decode, and judge, the session bytes behind the frame, so the one
 * header is parsed here. Reading in paused mode ('readable' + read()) matters: once our
 * listener is gone the stream is not paused by us, so the next owner's 'data' listener or
 * pipe() starts it.
 */
export function readFirstFrame(socket: Socket, opts: ReadFrameOptions): Promise<Frame> {
  return new Promise<Frame>((resolve, reject) => {
    let seen: Buffer = Buffer.alloc(0);
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      fail(new FerryError('Channel.HandshakeTimeout', `no ${opts.what} within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);

    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: unknown): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => fail(new FerryError('Channel.Closed', `connection closed before ${opts.what}`));
    const onError = (err: Error): void => fail(classifySocketError(err, `before ${opts.what}`));
    const onAbort = (): void => fail(opts.signal?.reason);
    const onReadable = (): void => {
      for (;;) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) return;
        // Bounded: we stop at the first header that promises more than HANDSHAKE_MAX_PAYLOAD.
        seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
        if (seen.length < FRAME_HEADER_BYTES) continue;
        const length = seen.readUInt32BE(0);
        if (length > HANDSHAKE_MAX_PAYLOAD) {
          fail(new FerryError('Channel.BadHandshake', `${opts.what}: peer sent a frame of ${length} bytes, over the ${HANDSHAKE_MAX_PAYLOAD}-byte handshake limit`));
          return;
        }
        const end = FRAME_HEADER_BYTES + length;
        if (seen.length < end) continue;
        cleanup();
        if (seen.length > end) socket.unshift(seen.subarray(end));
        resolve({ type: seen.readUInt8(4), payload: seen.subarray(FRAME_HEADER_BYTES, end) });
        return;
      }
    };

    if (opts.signal?.aborted) return fail(opts.signal.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.on('readable', onReadable);
    // Bytes already buffered (a listener that peeked at the first byte and unshifted it) raise no new 'readable'.
    if (socket.readableLength > 0) onReadable();
  });
}

/** HELLO payload -> DataHello, or the FerryError to refuse it with. */
export function parseHello(frame: Frame): DataHello {
  if (frame.type !== HandshakeFrameType.HELLO) {
    throw new FerryError('Channel.BadHandshake', `expected HELLO (frame type ${HandshakeFrameType.HELLO}), got frame type ${frame.type}`);
  }
  const value = parseJson(frame.payload, 'HELLO');
  // Checked before the schema: a later version may change the shape, and deserves its own error.
  if (isRecord(value) && value['magic'] === DATA_MAGIC && typeof value['version'] === 'number' && value['version'] !== DATA_PROTOCOL_VERSION) {
    throw new FerryError('Channel.VersionMismatch', `peer speaks data protocol version ${value['version']}, this agent ${DATA_PROTOCOL_VERSION}`);
  }
  const problems = checkSchema(DataHello, value);
  if (problems !== null) throw new FerryError('Channel.BadHandshake', `HELLO: ${problems}`);
  return value as DataHello;
}

/** A JSON handshake frame of the expected type, checked against its schema (clear-stream frames). */
export function parseHandshakeJson<S extends TSchema>(frame: Frame, type: number, schema: S, what: string): Static<S> {
  if (frame.type === HandshakeFrameType.ERROR && type !== HandshakeFrameType.ERROR) checkHelloReply(frame);
  if (frame.type !== type) throw new FerryError('Channel.BadHandshake', `expected ${what} (frame type ${type}), got frame type ${frame.type}`);
  const value = parseJson(frame.payload, what);
  const problems = checkSchema(schema, value);
  if (problems !== null) throw new FerryError('Channel.BadHandshake', `${what}: ${problems}`);
  return value as Static<S>;
}

/** The listener's answer to our HELLO: returns on HELLO_OK, throws the refusal otherwise. */
export function checkHelloReply(frame: Frame): void {
  if (frame.type === HandshakeFrameType.HELLO_OK) return;
  if (frame.type !== HandshakeFrameType.ERROR) {
    throw new FerryError('Channel.BadHandshake', `expected HELLO_OK or ERROR, got frame type ${frame.type}`);
  }
  const value = parseJson(frame.payload, 'ERROR');
  const problems = checkSchema(DataError, value);
  if (problems !== null) throw new FerryError('Channel.BadHandshake', `ERROR frame: ${problems}`);
  const { code, message } = value as DataError;
  throw new FerryError(isErrorCode(code) ? code : 'Channel.PeerRejected', `peer refused the connection: ${code}: ${message}`);
}

export function helloOkFrame(): Buffer {
  return encodeFrame(HandshakeFrameType.HELLO_OK);
}

export function errorFrame(err: FerryError): Buffer {
  const body: DataError = { code: err.code, message: err.message.slice(0, 4096) };
  return encodeJsonFrame(HandshakeFrameType.ERROR, body);
}

/**
 * Socket and TLS failures as channel errors. Certificate and TLS-alert failures (the peer is
 * not who control named, or refused our certificate) are refusals; plain errno failures
 * (ECONNREFUSED, ECONNRESET, ...) are a connection that may work on retry.
 */
export function classifySocketError(err: Error, when: string): FerryError {
  if (isFerryError(err)) {
    if (err.code === 'Agent.CertificateRejected') return new FerryError('Channel.PeerRejected', err.message, { cause: err });
    return err;
  }
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const isErrno = /^E[A-Z]+$/.test(code);
  return new FerryError(isErrno || code === '' ? 'Channel.Closed' : 'Channel.PeerRejected',
    `data connection failed ${when}: ${code === '' ? '' : `${code}: `}${err.message}`, { cause: err });
}

function parseJson(payload: Buffer, what: string): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    throw new FerryError('Channel.BadHandshake', `${what} payload is not JSON`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
