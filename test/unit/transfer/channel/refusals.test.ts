import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATA_PROTOCOL_VERSION, DataError } from '../../../../src/protocol/frames.js';
import { dialSession } from '../../../../src/transfer/channel/index.js';
import { sessionProof } from '../../../../src/transfer/channel/proof.js';
import { checkSchema } from '../../../../src/common/validate.js';
import {
  answer, captureLog, closed, encodeFrame, expectation, HandshakeFrameType, hello, Listeners, logged, makePki, rawConnect,
  sendHello, type Pki,
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

async function connect(creds = pki.b, port: number): Promise<TLSSocket> {
  const s = await rawConnect(creds, port);
  sockets.push(s);
  return s;
}

/** The listener's ERROR answer (schema-checked), after which it closes the connection. */
async function refusal(socket: TLSSocket): Promise<DataError> {
  const { type, body } = await answer(socket);
  expect(type).toBe(HandshakeFrameType.ERROR);
  expect(checkSchema(DataError, body)).toBeNull();
  await closed(socket);
  return body as DataError;
}

/** Proves a refusal left the session intact: the right peer still gets in. */
async function rightPeerStillConnects(port: number, exp: ReturnType<typeof expectation>, pending: Promise<TLSSocket[]>): Promise<void> {
  const dialed = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId });
  sockets.push(...dialed, ...(await pending));
}

describe('data listener refuses and logs', () => {
  it('a certificate from the right CA that names another node', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 1);
    const pending = listener.expect(exp);
    // Node c knows the secret (say, it stole it) and dials in with its own valid certificate.
    const err = await dialSession(pki.c, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.PeerRejected' });
    expect((err as Error).message).toContain(`node ${pki.c.nodeId} is not the peer of session ${exp.sessionId}`);
    const line = capture.lines.find((l) => l['msg'] === 'refused data connection');
    expect(line).toMatchObject({ code: 'Channel.PeerRejected', peerNodeId: pki.c.nodeId, sessionId: exp.sessionId, level: 40 });
    expect(line?.['remote']).toMatch(/^127\.0\.0\.1:\d+$/);
    await rightPeerStillConnects(port, exp, pending);
  });

  it('control\'s own server certificate, which names no node', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 1);
    void listener.expect(exp).catch(() => undefined);
    const s = await connect(pki.control, port);
    expect(await refusal(s)).toMatchObject({ code: 'Channel.PeerRejected', message: 'peer certificate names no Ferry node' });
    expect(capture.lines.some((l) => l['code'] === 'Channel.PeerRejected')).toBe(true);
  });

  it('a certificate from another CA, even one claiming the right node id', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 1);
    const pending = listener.expect(exp);
    const err = await dialSession(pki.bForeign, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId }).catch((e: unknown) => e);
    // TLS 1.3 lets the client finish its side first; the listener then drops the connection without a word.
    expect(err).toMatchObject({ code: 'Channel.Closed', message: expect.stringContaining("may not accept this agent's certificate") });
    const line = await logged(capture, (l) => l['msg'] === 'refused data connection: TLS handshake failed');
    expect(line['certError']).toMatch(/SIGNATURE|ISSUER|LOCAL/);
    await rightPeerStillConnects(port, exp, pending);
  });

  it('a listener that is not the node control named (checked by the dialer)', async () => {
    const { listener, port } = await listeners.open(pki.c);
    const exp = expectation(pki.b, 2);
    void listener.expect(exp).catch(() => undefined);
    const err = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.PeerRejected' });
    expect((err as Error).message).toContain(`peer is node ${pki.c.nodeId}, expected ${pki.a.nodeId}`);
  });

  it('the right node with the wrong secret', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 3);
    const pending = listener.expect(exp);
    const wrong = { ...exp, peerNodeId: pki.a.nodeId, secret: randomBytes(32).toString('base64url') };
    const err = await dialSession(pki.b, `127.0.0.1:${port}`, wrong).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.PeerRejected' });
    expect((err as Error).message).toContain('wrong session proof');
    expect(capture.lines.filter((l) => l['code'] === 'Channel.PeerRejected').length).toBeGreaterThanOrEqual(1);
    // Neither secret nor proof reaches the log.
    expect(capture.text()).not.toContain(exp.secret);
    expect(capture.text()).not.toContain(wrong.secret);
    expect(capture.text()).not.toMatch(/[0-9a-f]{64}/);
    await rightPeerStillConnects(port, exp, pending);
  });

  it('a proof replayed from another connection', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 1);
    const pending = listener.expect(exp);
    const first = await connect(pki.b, port);
    const second = await connect(pki.b, port);
    const proofOfFirst = sessionProof(exp.secret, first);
    expect(sessionProof(exp.secret, second)).not.toBe(proofOfFirst);
    sendHello(second, hello(second, exp, { proof: proofOfFirst }));
    expect(await refusal(second)).toMatchObject({ code: 'Channel.PeerRejected' });
    // The same proof on the connection it was made for is accepted.
    sendHello(first, hello(first, exp, { proof: proofOfFirst }));
    expect((await answer(first)).type).toBe(HandshakeFrameType.HELLO_OK);
    const [served] = await pending;
    sockets.push(served!);
    expect(served!.remotePort).toBe(first.localPort);
  });

  it('an unknown session', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    void listener.expect(expectation(pki.b, 1)).catch(() => undefined);
    const exp = expectation(pki.b, 1);
    const err = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.UnknownSession' });
    expect(capture.lines.find((l) => l['code'] === 'Channel.UnknownSession')).toMatchObject({ sessionId: exp.sessionId });
  });

  it('a duplicate stream index and a wrong stream count', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 2);
    const pending = listener.expect(exp);
    const s0 = await connect(pki.b, port);
    sendHello(s0, hello(s0, exp, { streamIndex: 0 }));
    expect((await answer(s0)).type).toBe(HandshakeFrameType.HELLO_OK);
    const again = await connect(pki.b, port);
    sendHello(again, hello(again, exp, { streamIndex: 0 }));
    expect(await refusal(again)).toMatchObject({ code: 'Channel.BadHandshake', message: expect.stringContaining('already connected') });
    for (const bad of [{ streamIndex: 1, streams: 3 }, { streamIndex: 2, streams: 2 }]) {
      const s = await connect(pki.b, port);
      sendHello(s, hello(s, exp, bad));
      expect(await refusal(s)).toMatchObject({ code: 'Channel.BadHandshake', message: expect.stringContaining('does not fit') });
    }
    const s1 = await connect(pki.b, port);
    sendHello(s1, hello(s1, exp, { streamIndex: 1 }));
    const served = await pending;
    sockets.push(...served);
    expect(served.map((s) => s.remotePort)).toEqual([s0.localPort, s1.localPort]);
  });

  it('garbage instead of HELLO: not a frame, too big, wrong type, not JSON, bad schema, other version', async () => {
    const capture = captureLog();
    const { listener, port } = await listeners.open(pki.a, { log: capture.log });
    const exp = expectation(pki.b, 1);
    const pending = listener.expect(exp);
    const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const cases: Array<{ bytes: (s: TLSSocket) => Buffer; code: string; message: RegExp }> = [
      { bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), code: 'Channel.BadHandshake', message: /over the 4096-byte handshake limit/ },
      { bytes: () => encodeFrame(HandshakeFrameType.HELLO, Buffer.alloc(5000, 0x7b)), code: 'Channel.BadHandshake', message: /5000 bytes/ },
      { bytes: () => encodeFrame(HandshakeFrameType.HELLO_OK), code: 'Channel.BadHandshake', message: /expected HELLO/ },
      { bytes: () => encodeFrame(HandshakeFrameType.HELLO, Buffer.from('{"magic": "ferry-data", ')), code: 'Channel.BadHandshake', message: /not JSON/ },
      { bytes: (s) => encodeFrame(HandshakeFrameType.HELLO, json({ ...hello(s, exp), extra: 1 })), code: 'Channel.BadHandshake', message: /unknown key 'extra'/ },
      { bytes: (s) => encodeFrame(HandshakeFrameType.HELLO, json({ ...hello(s, exp), magic: 'ferry-dota' })), code: 'Channel.BadHandshake', message: /magic/ },
      { bytes: (s) => encodeFrame(HandshakeFrameType.HELLO, json({ ...hello(s, exp), proof: 'A'.repeat(64) })), code: 'Channel.BadHandshake', message: /proof/ },
      { bytes: (s) => encodeFrame(HandshakeFrameType.HELLO, json({ ...hello(s, exp), version: DATA_PROTOCOL_VERSION + 1, newField: true })), code: 'Channel.VersionMismatch', message: new RegExp(`version ${DATA_PROTOCOL_VERSION + 1}`) },
    ];
    for (const c of cases) {
      const s = await connect(pki.b, port);
      s.write(c.bytes(s));
      const body = await refusal(s);
      expect(body.code, c.message.source).toBe(c.code);
      expect(body.message).toMatch(c.message);
    }
    expect(capture.lines.filter((l) => l['msg'] === 'refused data connection')).toHaveLength(cases.length);
    await rightPeerStillConnects(port, exp, pending);
  });
});
