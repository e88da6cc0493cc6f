import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataListener, dialSession } from '../../../../src/transfer/channel/index.js';
import {
  answer, captureLog, closed, expectation, HandshakeFrameType, hello, Listeners, logged, makePki, rawConnect, sendHello,
  type Pki,
} from './fixture.js';

let pki: Pki;
const listeners = new Listeners();
const cleanups: Array<() => void | Promise<void>> = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await listeners.closeAll();
});

async function occupy(port: number): Promise<net.Server | null> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      resolve(server);
    });
  });
}

/** Two adjacent loopback ports, the first held by another server and the second too unless `leaveSecondFree`. */
async function busyRange(leaveSecondFree: boolean): Promise<[number, number]> {
  for (;;) {
    const first = await occupy(0);
    const port = (first!.address() as AddressInfo).port;
    if (port >= 65535) continue;
    const second = await occupy(port + 1);
    if (second === null) continue;
    if (leaveSecondFree) await new Promise<void>((r) => second.close(() => r()));
    return [port, port + 1];
  }
}

async function connect(port: number): Promise<TLSSocket> {
  const s = await rawConnect(pki.b, port);
  cleanups.push(() => { s.destroy(); });
  return s;
}

describe('data listener ports', () => {
  it('skips a port in use and binds the next one in the range', async () => {
    const range = await busyRange(true);
    const listener = new DataListener(pki.a, { host: '127.0.0.1', portRange: range });
    cleanups.push(() => listener.close());
    expect(await listener.open()).toEqual({ host: '127.0.0.1', port: range[1] });
  });

  it('fails with Channel.NoPort when every port of the range is taken', async () => {
    const range = await busyRange(false);
    const listener = new DataListener(pki.a, { host: '127.0.0.1', portRange: range });
    cleanups.push(() => listener.close());
    const err = await listener.open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Channel.NoPort' });
    expect((err as Error).message).toBe(`no free port for data connections on 127.0.0.1 in ${range[0]}-${range[1]} (last error EADDRINUSE)`);
  });

  it('refuses a malformed range up front', () => {
    for (const bad of [[5, 4], [0, 10], [1, 70000], [1.5, 2]] as Array<[number, number]>) {
      expect(() => new DataListener(pki.a, { host: '127.0.0.1', portRange: bad })).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    }
  });
});

describe('data listener lifecycle and timeouts', () => {
  it('close() fails pending expectations, cuts connections in handshake, and refuses new work', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 2);
    const pending = listener.expect(exp);
    const other = listener.expect(expectation(pki.c, 1));
    // One stream already accepted and waiting for its sibling, one connection that never says HELLO.
    const s0 = await connect(port);
    sendHello(s0, hello(s0, exp));
    expect((await answer(s0)).type).toBe(HandshakeFrameType.HELLO_OK);
    const silent = await connect(port);
    await listener.close();
    await expect(pending).rejects.toMatchObject({ code: 'Channel.Closed', message: 'data listener closed' });
    await expect(other).rejects.toMatchObject({ code: 'Channel.Closed' });
    await closed(s0);
    await closed(silent);
    await expect(listener.expect(expectation(pki.b, 1))).rejects.toMatchObject({ code: 'Channel.Closed' });
    await expect(listener.open()).rejects.toMatchObject({ code: 'Channel.Closed' });
    await listener.close(); // idempotent
  });

  it('refuses a connection that sends no HELLO within the handshake timeout', async () => {
    const capture = captureLog();
    const { port } = await listeners.open(pki.a, { log: capture.log, handshakeTimeoutMs: 1500 });
    const started = Date.now(); // before the connect: the listener's timer starts at its accept
    const s = await connect(port);
    const { type, body } = await answer(s);
    expect(type).toBe(HandshakeFrameType.ERROR);
    expect(body).toEqual({ code: 'Channel.HandshakeTimeout', message: 'no HELLO within 1500 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await closed(s);
    expect(capture.lines.some((l) => l['code'] === 'Channel.HandshakeTimeout')).toBe(true);
  });

  it('cuts a TCP connection that never sends a byte', async () => {
    const capture = captureLog();
    const { port } = await listeners.open(pki.a, { log: capture.log, handshakeTimeoutMs: 1500 });
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => undefined);
    cleanups.push(() => { raw.destroy(); });
    raw.resume();
    await once(raw, 'close');
    // Nothing arrived, so not even TLS or clear text can be told apart: cut after the handshake timeout.
    const line = await logged(capture, (l) => l['msg'] === 'refused data connection: nothing received');
    expect(line['code']).toBe('Channel.HandshakeTimeout');
  });

  it('an expectation times out, and drops the streams it had', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 2);
    const pending = listener.expect(exp, { timeoutMs: 2000 });
    const s0 = await connect(port);
    sendHello(s0, hello(s0, exp));
    expect((await answer(s0)).type).toBe(HandshakeFrameType.HELLO_OK);
    await expect(pending).rejects.toMatchObject({
      code: 'Channel.HandshakeTimeout', message: `session ${exp.sessionId}: 1 of 2 streams connected after 2000 ms`,
    });
    await closed(s0);
    // Gone: a late stream is now for an unknown session.
    const s1 = await connect(port);
    sendHello(s1, hello(s1, exp, { streamIndex: 1 }));
    expect((await answer(s1)).body).toMatchObject({ code: 'Channel.UnknownSession' });
  });

  it('an expectation ends when its signal aborts or an accepted stream drops', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const aborted = new AbortController();
    aborted.abort(new Error('canceled by control'));
    await expect(listener.expect(expectation(pki.b, 1), { signal: aborted.signal })).rejects.toMatchObject({ code: 'Channel.Closed' });

    const ac = new AbortController();
    const exp = expectation(pki.b, 2);
    const pending = listener.expect(exp, { signal: ac.signal });
    await expect(listener.expect(exp)).rejects.toMatchObject({ code: 'ClientError.Conflict' });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'Channel.Closed', message: `session ${exp.sessionId}: canceled` });

    const exp2 = expectation(pki.b, 2);
    const pending2 = listener.expect(exp2);
    const s0 = await connect(port);
    sendHello(s0, hello(s0, exp2));
    expect((await answer(s0)).type).toBe(HandshakeFrameType.HELLO_OK);
    s0.destroy();
    await expect(pending2).rejects.toMatchObject({ code: 'Channel.Closed', message: 'stream 0 closed while the session was connecting' });
  });
});

describe('dialer failures', () => {
  it('times out against a listener that never answers HELLO, and closes its connections', async () => {
    const server = tls.createServer({ ca: [pki.ca.certPem], cert: pki.a.cert, key: pki.a.key, requestCert: true, rejectUnauthorized: true });
    const accepted: TLSSocket[] = [];
    server.on('secureConnection', (s: TLSSocket) => { accepted.push(s); s.resume(); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((r) => { accepted.forEach((s) => s.destroy()); server.close(() => r()); }));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const exp = expectation(pki.a, 3);
    await expect(dialSession(pki.b, address, exp, { timeoutMs: 3000 })).rejects.toMatchObject({ code: 'Channel.HandshakeTimeout' });
    await Promise.all(accepted.map((s) => (s.destroyed ? undefined : once(s, 'close'))));
    expect(accepted).toHaveLength(3);

    const ac = new AbortController();
    const dialing = dialSession(pki.b, address, expectation(pki.a, 2), { signal: ac.signal });
    ac.abort();
    await expect(dialing).rejects.toMatchObject({ code: 'Channel.Closed', message: expect.stringContaining('canceled') });
  });

  it('reports a refused TCP connection as Channel.Closed', async () => {
    const spare = net.createServer();
    spare.listen(0, '127.0.0.1');
    await once(spare, 'listening');
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((r) => spare.close(() => r()));
    await expect(dialSession(pki.b, `127.0.0.1:${port}`, expectation(pki.a, 2))).rejects.toMatchObject({
      code: 'Channel.Closed', message: expect.stringContaining('ECONNREFUSED'),
    });
  });
});
