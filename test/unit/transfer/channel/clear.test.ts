import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClearChallenge, DATA_MAGIC, DATA_PROTOCOL_VERSION, DataError, type ClearHello } from '../../../../src/protocol/frames.js';
import { checkSchema } from '../../../../src/common/validate.js';
import { clearStreamKeys, dialSession } from '../../../../src/transfer/channel/index.js';
import { recordJoin } from '../../../../src/transfer/channel/clear-keys.js';
import { readFirstFrame } from '../../../../src/transfer/channel/handshake-io.js';
import { encodeJsonFrame } from '../../../../src/transfer/wire/frame-codec.js';
import { answer, captureLog, expectation, HandshakeFrameType, hello, Listeners, makePki, rawConnect, sendHello, type Pki } from './fixture.js';

/**
 * Clear-text sessions (encrypt_data false): stream 0 is mutual TLS, the data streams plain TCP
 * that join by proving keys exported from stream 0's TLS session. Real sockets on 127.0.0.1.
 */
let pki: Pki;
const listeners = new Listeners();
const sockets: Socket[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await listeners.closeAll();
});

function clearExp(streams: number): ReturnType<typeof expectation> & { clear: true } {
  return { ...expectation(pki.b, streams), clear: true };
}

async function plainConnect(port: number): Promise<Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  sockets.push(s);
  await once(s, 'connect');
  return s;
}

function clearHello(exp: { sessionId: string; streams: number }, index: number): ClearHello {
  return { magic: DATA_MAGIC, version: DATA_PROTOCOL_VERSION, sessionId: exp.sessionId, streamIndex: index, streams: exp.streams, nonce: randomBytes(32).toString('hex') };
}

async function refusalOn(socket: Socket): Promise<DataError> {
  const frame = await readFirstFrame(socket, { what: 'answer', timeoutMs: 5000 });
  expect(frame.type).toBe(HandshakeFrameType.ERROR);
  const body = JSON.parse(frame.payload.toString('utf8')) as unknown;
  expect(checkSchema(DataError, body)).toBeNull();
  return body as DataError;
}

describe('clear-text data streams', () => {
  it('connect: stream 0 over mutual TLS, the others plain TCP, with the same per-direction keys on both sides', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = clearExp(4);
    const pending = listener.expect(exp);
    const dialed = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId });
    const accepted = await pending;
    sockets.push(...dialed, ...accepted);
    expect(dialed).toHaveLength(4);
    expect(dialed[0]).toBeInstanceOf(TLSSocket);
    expect(accepted[0]).toBeInstanceOf(TLSSocket);
    for (const s of [...dialed.slice(1), ...accepted.slice(1)]) expect(s).not.toBeInstanceOf(TLSSocket);
    // Each accepted socket is the peer of the dialed one of the same index.
    for (let k = 0; k < 4; k++) expect(accepted[k]!.remotePort).toBe(dialed[k]!.localPort);
    const mine = clearStreamKeys(exp.sessionId, true, [dialed[0] as TLSSocket, ...dialed.slice(1)]);
    const theirs = clearStreamKeys(exp.sessionId, false, [accepted[0] as TLSSocket, ...accepted.slice(1)]);
    expect(mine[0]).toBeNull();
    for (let k = 1; k < 4; k++) {
      expect(mine[k]!.send.equals(theirs[k]!.receive)).toBe(true);
      expect(mine[k]!.receive.equals(theirs[k]!.send)).toBe(true);
      // Directions and streams never share a key.
      expect(mine[k]!.send.equals(mine[k]!.receive)).toBe(false);
      if (k > 1) expect(mine[k]!.send.equals(mine[k - 1]!.send)).toBe(false);
    }
    // Keys belong to the connection (both nonces of its join), not just to the stream's index.
    const control = dialed[0] as TLSSocket;
    const again = clearStreamKeys(exp.sessionId, true, [control, dialed[1]!])[1]!;
    expect(again.send.equals(mine[1]!.send)).toBe(true);
    const other = new net.Socket();
    recordJoin(other, randomBytes(32).toString('hex'), randomBytes(32).toString('hex'));
    const otherKeys = clearStreamKeys(exp.sessionId, true, [control, other])[1]!;
    expect(otherKeys.send.equals(mine[1]!.send)).toBe(false);
    expect(otherKeys.receive.equals(mine[1]!.receive)).toBe(false);
    expect(() => clearStreamKeys(exp.sessionId, true, [control, new net.Socket()])).toThrow(/did not join/);
    // Bytes really travel in clear on a data stream.
    const got = once(accepted[2]!, 'data');
    dialed[2]!.write('plain bytes');
    expect(String((await got)[0])).toBe('plain bytes');
  });

  it('refuses a clear stream that cannot prove the key, and the right dialer still gets in', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = clearExp(2);
    const pending = listener.expect(exp);
    // The control stream joins normally (a real agent of the session).
    const control = await rawConnect(pki.b, port);
    sockets.push(control);
    sendHello(control, hello(control, exp));
    expect((await answer(control)).type).toBe(HandshakeFrameType.HELLO_OK);
    // An intruder who knows the session id (it travels in clear) but not the TLS session's keys.
    const intruder = await plainConnect(port);
    intruder.write(encodeJsonFrame(HandshakeFrameType.CLEAR_HELLO, clearHello(exp, 1)));
    const challengeFrame = await readFirstFrame(intruder, { what: 'CLEAR_CHALLENGE', timeoutMs: 5000 });
    expect(challengeFrame.type).toBe(HandshakeFrameType.CLEAR_CHALLENGE);
    expect(checkSchema(ClearChallenge, JSON.parse(challengeFrame.payload.toString('utf8')))).toBeNull();
    intruder.write(encodeJsonFrame(HandshakeFrameType.CLEAR_PROOF, { proof: randomBytes(32).toString('hex') }));
    expect(await refusalOn(intruder)).toMatchObject({ code: 'Channel.PeerRejected' });
    expect(capture.text()).toContain('wrong clear-stream proof');
    // Nothing secret in the log: no 64-hex-digit key, nonce or proof.
    expect(capture.text()).not.toMatch(/[0-9a-f]{64}/);
    // The session still waits for its stream 1 and is not failed by the intruder.
    expect(await Promise.race([pending.then(() => 'settled', () => 'failed'), new Promise((r) => setTimeout(() => r('waiting'), 100))])).toBe('waiting');
  });

  it('a dialer refuses a listener that cannot prove the key', async () => {
    // A fake listener: answers CLEAR_HELLO with a made-up proof.
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.write(encodeJsonFrame(HandshakeFrameType.CLEAR_CHALLENGE, { nonce: randomBytes(32).toString('hex'), proof: randomBytes(32).toString('hex') })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { dialClearStream } = await import('../../../../src/transfer/channel/clear-join.js');
    const port = (server.address() as net.AddressInfo).port;
    const err = await dialClearStream({ host: '127.0.0.1', port }, clearExp(2), 1, randomBytes(32), new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.PeerRejected' });
    await new Promise((r) => server.close(r));
  });

  it('refuses a clear stream for an encrypted session, and a TLS data stream for a clear one', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const encrypted = expectation(pki.b, 2);
    void listener.expect(encrypted).catch(() => undefined);
    const c = await plainConnect(port);
    c.write(encodeJsonFrame(HandshakeFrameType.CLEAR_HELLO, clearHello(encrypted, 1)));
    expect(await refusalOn(c)).toMatchObject({ code: 'Channel.PeerRejected' });

    const exp = clearExp(2);
    void listener.expect(exp).catch(() => undefined);
    const tls1 = await rawConnect(pki.b, port);
    sockets.push(tls1);
    sendHello(tls1, hello(tls1, exp, { streamIndex: 1 }));
    expect(await refusalOn(tls1)).toMatchObject({ code: 'Channel.BadHandshake' });
  });

  it('refuses a clear stream that comes before its control stream', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = clearExp(2);
    void listener.expect(exp).catch(() => undefined);
    const c = await plainConnect(port);
    c.write(encodeJsonFrame(HandshakeFrameType.CLEAR_HELLO, clearHello(exp, 1)));
    expect(await refusalOn(c)).toMatchObject({ code: 'Channel.BadHandshake' });
  });
});
