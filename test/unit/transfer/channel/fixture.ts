import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import tls, { type TLSSocket } from 'node:tls';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../../src/common/logger.js';
import { createCa, createCsr, generateKeyPair, issueServerCertificate, signAgentCsr, type CertAndKey } from '../../../../src/pki/index.js';
import { DATA_MAGIC, DATA_PROTOCOL_VERSION, HandshakeFrameType, type DataHello } from '../../../../src/protocol/frames.js';
import { DataListener, type ChannelCredentials, type SessionExpectation } from '../../../../src/transfer/channel/index.js';
import { readFirstFrame } from '../../../../src/transfer/channel/handshake-io.js';
import { sessionProof } from '../../../../src/transfer/channel/proof.js';
import { encodeFrame, encodeJsonFrame, type Frame } from '../../../../src/transfer/wire/frame-codec.js';

export const ENDPOINT = 'c3a9e1f0-2d4b-4e6a-8b1c-9f0e1d2c3b4a';

export interface Pki {
  ca: CertAndKey;
  otherCa: CertAndKey;
  /** Three agents of `ca`. */
  a: ChannelCredentials;
  b: ChannelCredentials;
  c: ChannelCredentials;
  /** Claims node b's id, but was issued by `otherCa`. */
  bForeign: ChannelCredentials;
  /** Control's own server certificate: same CA, but it names no node. */
  control: ChannelCredentials;
}

export function agentCreds(ca: CertAndKey, trustPem: string, nodeId: string): ChannelCredentials {
  const keys = generateKeyPair(2048);
  const issued = signAgentCsr(ca, createCsr(keys, 'agent-host'), { nodeId, endpointId: ENDPOINT });
  return { ca: trustPem, cert: issued.certPem, key: keys.privateKeyPem, nodeId };
}

export function makePki(): Pki {
  const ca = createCa({ commonName: 'Channel Test CA', keyBits: 2048 });
  const otherCa = createCa({ commonName: 'Channel Test CA', keyBits: 2048 });
  const b = agentCreds(ca, ca.certPem, randomUUID());
  const server = issueServerCertificate(ca, ['127.0.0.1']);
  return {
    ca, otherCa, b,
    a: agentCreds(ca, ca.certPem, randomUUID()),
    c: agentCreds(ca, ca.certPem, randomUUID()),
    bForeign: agentCreds(otherCa, ca.certPem, b.nodeId),
    control: { ca: ca.certPem, cert: server.certPem, key: server.keyPem, nodeId: 'control' },
  };
}

export function expectation(peer: ChannelCredentials, streams: number, secret = randomBytes(32).toString('base64url')): SessionExpectation {
  return { sessionId: randomUUID(), peerNodeId: peer.nodeId, secret, streams };
}

/** A real pino logger (with Ferry's redaction) whose lines the test can read. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  return {
    log,
    get lines() {
      return raw.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => raw.join(''),
  };
}

/** Resolves once a log line matching `pred` was written (pino writes synchronously to our sink). */
export async function logged(capture: ReturnType<typeof captureLog>, pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (;;) {
    const hit = capture.lines.find(pred);
    if (hit) return hit;
    await new Promise((r) => setImmediate(r));
  }
}

/** Hand-driven dialer: TLS with `creds`, verifying the listener chain only (tests that speak bad protocol). */
export async function rawConnect(creds: ChannelCredentials, port: number): Promise<TLSSocket> {
  const socket = tls.connect({
    host: '127.0.0.1', port, ca: [creds.ca], cert: creds.cert, key: creds.key,
    minVersion: 'TLSv1.3', checkServerIdentity: () => undefined,
  });
  socket.on('error', () => undefined);
  await once(socket, 'secureConnect');
  return socket;
}

export function hello(socket: TLSSocket, exp: SessionExpectation, overrides: Partial<DataHello> = {}): DataHello {
  return {
    magic: DATA_MAGIC, version: DATA_PROTOCOL_VERSION, sessionId: exp.sessionId, streamIndex: 0, streams: exp.streams,
    proof: sessionProof(exp.secret, socket), ...overrides,
  };
}

export function sendHello(socket: TLSSocket, body: unknown): void {
  socket.write(encodeJsonFrame(HandshakeFrameType.HELLO, body));
}

/** The listener's one answer; then waits for it to close the connection. */
export async function answer(socket: TLSSocket): Promise<{ type: number; body: unknown }> {
  const frame: Frame = await readFirstFrame(socket, { what: 'answer', timeoutMs: 5000 });
  const body = frame.payload.length === 0 ? null : JSON.parse(frame.payload.toString('utf8')) as unknown;
  return { type: frame.type, body };
}

export async function closed(socket: TLSSocket): Promise<void> {
  if (socket.destroyed) return;
  socket.resume();
  await once(socket, 'close');
}

export { encodeFrame, HandshakeFrameType };

/** Opens listeners on any free loopback port and closes them after each test. */
export class Listeners {
  private readonly all: DataListener[] = [];
  async open(creds: ChannelCredentials, opts: { handshakeTimeoutMs?: number; log?: Logger } = {}): Promise<{ listener: DataListener; port: number }> {
    const listener = new DataListener(creds, { host: '127.0.0.1', portRange: [0, 0], ...opts });
    this.all.push(listener);
    const { port } = await listener.open();
    return { listener, port };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((l) => l.close()));
  }
}
