import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentIdentity } from '../../../../src/pki/index.js';
import { dialSession, parseAddress } from '../../../../src/transfer/channel/index.js';
import { parseHello, readFirstFrame } from '../../../../src/transfer/channel/handshake-io.js';
import { encodeJsonFrame } from '../../../../src/transfer/wire/frame-codec.js';
import {
  captureLog, encodeFrame, expectation, HandshakeFrameType, hello, Listeners, makePki, rawConnect, sendHello, type Pki,
} from './fixture.js';

let pki: Pki;
const listeners = new Listeners();
const sockets: TLSSocket[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await listeners.closeAll();
});

function readAll(socket: TLSSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** The first `n` bytes that arrive, leaving the socket open. */
function readBytes(socket: TLSSocket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('data channel handshake', () => {
  it('connects 5 streams in order and carries data both ways on each', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 5);
    const accepted = listener.expect({ ...exp, peerNodeId: pki.b.nodeId });
    const dialed = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId });
    const served = await accepted;
    sockets.push(...dialed, ...served);
    expect(dialed).toHaveLength(5);
    expect(served).toHaveLength(5);
    for (let i = 0; i < 5; i += 1) {
      // Same TCP connection at both ends of slot i, and each end sees the other's node.
      expect(served[i]!.remotePort).toBe(dialed[i]!.localPort);
      expect(parseAgentIdentity(served[i]!.getPeerCertificate().raw)?.nodeId).toBe(pki.b.nodeId);
      expect(parseAgentIdentity(dialed[i]!.getPeerCertificate().raw)?.nodeId).toBe(pki.a.nodeId);
      expect(dialed[i]!.getProtocol()).toBe('TLSv1.3');
    }

    const up = dialed.map(() => randomBytes(300_000));
    const down = served.map(() => randomBytes(300_000));
    const received = Promise.all([...served.map(readAll), ...dialed.map(readAll)]);
    dialed.forEach((s, i) => s.end(up[i]!));
    served.forEach((s, i) => s.end(down[i]!));
    const got = await received;
    expect(got.slice(0, 5).map(sha)).toEqual(up.map(sha));
    expect(got.slice(5).map(sha)).toEqual(down.map(sha));

    // Accepted connections are logged at debug, and never with the secret or a proof.
    expect(capture.lines.filter((l) => l['msg'] === 'data connection accepted')).toHaveLength(5);
    expect(capture.text()).not.toContain(exp.secret);
    expect(capture.text()).not.toMatch(/[0-9a-f]{64}/);
  });

  it('hands the listener side bytes that arrived in the same read as HELLO', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 1);
    const accepted = listener.expect(exp);
    const raw = await rawConnect(pki.b, port);
    sockets.push(raw);
    const early = Buffer.from('session bytes sent right behind HELLO');
    raw.write(Buffer.concat([encodeJsonFrame(HandshakeFrameType.HELLO, hello(raw, exp)), early]));
    const [served] = await accepted;
    sockets.push(served!);
    expect(await readBytes(served!, early.length)).toEqual(early);
    const ok = await readFirstFrame(raw, { what: 'HELLO_OK', timeoutMs: 5000 });
    expect(ok.type).toBe(HandshakeFrameType.HELLO_OK);
  });

  it('hands the dialer side bytes that arrived in the same read as HELLO_OK', async () => {
    // A hand-written listener that answers HELLO_OK and its first session bytes in one write.
    const early = Buffer.from('first frame of the session');
    const server = tls.createServer({ ca: [pki.ca.certPem], cert: pki.a.cert, key: pki.a.key, requestCert: true, rejectUnauthorized: true });
    const helloSeen = new Promise<unknown>((resolve) => {
      server.on('secureConnection', (s: TLSSocket) => {
        sockets.push(s);
        void readFirstFrame(s, { what: 'HELLO', timeoutMs: 5000 }).then((f) => {
          s.write(Buffer.concat([encodeFrame(HandshakeFrameType.HELLO_OK), early]));
          resolve(parseHello(f));
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const exp = expectation(pki.a, 1);
      const [socket] = await dialSession(pki.b, `127.0.0.1:${(server.address() as AddressInfo).port}`, exp);
      sockets.push(socket!);
      expect(await helloSeen).toMatchObject({ sessionId: exp.sessionId, streamIndex: 0, streams: 1 });
      expect(await readBytes(socket!, early.length)).toEqual(early);
    } finally {
      server.close();
    }
  });

  it('parses host:port and [v6]:port addresses', () => {
    expect(parseAddress('127.0.0.1:50000')).toEqual({ host: '127.0.0.1', port: 50000 });
    expect(parseAddress('[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(parseAddress('dtn1.example.org:65535')).toEqual({ host: 'dtn1.example.org', port: 65535 });
    for (const bad of ['127.0.0.1', '::1:50000', 'host:0', 'host:70000', ':5', 'host:port']) {
      expect(() => parseAddress(bad), bad).toThrow(/not host:port/);
    }
  });

  it('rejects a bad address, stream count or secret before connecting', async () => {
    await expect(dialSession(pki.b, 'nowhere', expectation(pki.a, 1))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    await expect(dialSession(pki.b, '127.0.0.1:1', expectation(pki.a, 0))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    await expect(dialSession(pki.b, '127.0.0.1:1', expectation(pki.a, 65))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    await expect(dialSession(pki.b, '127.0.0.1:1', expectation(pki.a, 1, 'short'))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    const { listener } = await listeners.open(pki.a);
    await expect(listener.expect(expectation(pki.b, 1, ''))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
    await expect(listener.expect(expectation(pki.b, 0))).rejects.toMatchObject({ code: 'ClientError.BadRequest' });
  });

  it('keeps sending a HELLO the receiver can validate', async () => {
    // Guards the fixture itself: a hand-built HELLO must be what the listener accepts.
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 1);
    const accepted = listener.expect(exp);
    const raw = await rawConnect(pki.b, port);
    sockets.push(raw);
    sendHello(raw, hello(raw, exp));
    const [served] = await accepted;
    sockets.push(served!);
    expect(served!.authorized).toBe(true);
  });
});
