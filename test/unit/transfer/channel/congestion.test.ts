import { createServer, connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostCongestion, nativeTcpCongestion, twinTcpCongestion } from '../../../../src/fs/index.js';
import { nativeRawFsUnavailableReason } from '../../../../src/fs/load.js';
import { applyCongestion, dialSession, planCongestion, tcpInfoOf } from '../../../../src/transfer/channel/index.js';
import { isLossBased } from '../../../../src/protocol/link.js';
import { expectation, Listeners, makePki, type Pki } from './fixture.js';

/**
 * The data streams' congestion control, chosen by the agent (TCP_CONGESTION through the native
 * addon): set and read back on real loopback sockets, plain and TLS, the planning rules for
 * 'auto', 'system' and pinned names, and the twin that can only report the host default.
 */

const host = hostCongestion();
const native = nativeRawFsUnavailableReason() === undefined;
const isRoot = process.getuid?.() === 0;
/** reno is always built in; another one this process may choose, to see a change for real. */
const other = host.available.find((n) => n !== host.defaultName && (isRoot || host.allowed.includes(n)));

async function tcpPair(): Promise<{ a: Socket; b: Socket; close(): void }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise<void>((r) => a.once('connect', () => r()));
  const b = await accepted;
  return { a, b, close: () => { a.destroy(); b.destroy(); server.close(); } };
}

const fdOf = (s: Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

describe('congestion control of the data streams', () => {
  const listeners = new Listeners();
  let pki: Pki;
  const open: Array<{ destroy(): void }> = [];
  beforeAll(() => { pki = makePki(); });
  afterEach(async () => {
    for (const s of open.splice(0)) s.destroy();
    await listeners.closeAll();
  });

  it.skipIf(!native)('sets and reads TCP_CONGESTION per socket through the native addon', async () => {
    const cc = nativeTcpCongestion();
    const pair = await tcpPair();
    try {
      expect(cc.get(fdOf(pair.a))).toBe(host.defaultName);
      if (other) {
        cc.set(fdOf(pair.a), other);
        expect(cc.get(fdOf(pair.a))).toBe(other);
        // The other end of the connection keeps its own.
        expect(cc.get(fdOf(pair.b))).toBe(host.defaultName);
      }
      expect(() => cc.set(fdOf(pair.a), 'no_such_cc')).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'setsockopt' }));
      expect(() => cc.set(fdOf(pair.a), 'Bad Name!')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(() => cc.set(-1, 'reno')).toThrow();
    } finally {
      pair.close();
    }
  });

  it.skipIf(!native)('reads TCP_INFO counters of a real connection through the native addon', async () => {
    const cc = nativeTcpCongestion();
    const pair = await tcpPair();
    try {
      const payload = Buffer.alloc(1024 * 1024, 7);
      let received = 0;
      const all = new Promise<void>((r) => pair.b.on('data', (d: Buffer) => { received += d.length; if (received >= payload.length) r(); }));
      pair.a.write(payload);
      await all;
      const info = cc.info(fdOf(pair.a))!;
      expect(info.bytesSent).toBeGreaterThanOrEqual(payload.length);
      expect(info.rttUs).toBeGreaterThan(0);
      expect(info.cwnd).toBeGreaterThan(0);
      expect(info.bytesRetransmitted).toBeLessThanOrEqual(info.bytesSent);
      expect(info.busyUs).toBeGreaterThanOrEqual(info.rwndLimitedUs + info.sndbufLimitedUs);
      // The receiving side sent nothing but acknowledgements.
      expect(cc.info(fdOf(pair.b))!.bytesSent).toBe(0);
      expect(tcpInfoOf(pair.a, cc)).toEqual(expect.objectContaining({ bytesSent: info.bytesSent }));
      expect(() => cc.info(-1)).toThrow();
    } finally {
      pair.close();
    }
  });

  it('the twin reports the host default and refuses to set', async () => {
    const pair = await tcpPair();
    try {
      expect(twinTcpCongestion.get(fdOf(pair.a))).toBe(host.defaultName);
      expect(() => twinTcpCongestion.set(fdOf(pair.a), 'reno')).toThrow(expect.objectContaining({ code: 'ENOTSUP' }));
      // No counters: a session on the twin never grows its streams.
      expect(twinTcpCongestion.info(fdOf(pair.a))).toBeNull();
      expect(tcpInfoOf(pair.a, twinTcpCongestion)).toBeNull();
      const result = applyCongestion([pair.a], { wanted: 'reno', reason: 'test' }, twinTcpCongestion);
      expect(result).toEqual({ name: host.defaultName, refused: expect.stringContaining('native addon') });
    } finally {
      pair.close();
    }
  });

  it('plans bbr when it may, the host default otherwise, and a pinned name as asked', () => {
    const nat = { kind: 'native' as const };
    const cubicHost = { defaultName: 'cubic', available: ['reno', 'cubic', 'bbr'], allowed: ['reno', 'cubic'] };
    expect(planCongestion('auto', cubicHost, nat, true)).toEqual({ wanted: 'bbr', reason: 'auto' });
    expect(planCongestion('auto', cubicHost, nat, false).wanted).toBeNull();
    expect(planCongestion('auto', { ...cubicHost, allowed: ['reno', 'cubic', 'bbr'] }, nat, false).wanted).toBe('bbr');
    expect(planCongestion('auto', { ...cubicHost, available: ['reno', 'cubic'] }, nat, true)).toEqual({ wanted: null, reason: 'the kernel has no bbr' });
    expect(planCongestion('auto', { ...cubicHost, defaultName: 'bbr' }, nat, true).wanted).toBeNull();
    expect(planCongestion('system', cubicHost, nat, true).wanted).toBeNull();
    expect(planCongestion('cubic', cubicHost, nat, true).wanted).toBe('cubic');
    expect(planCongestion('bbr', cubicHost, { kind: 'twin' }, true)).toEqual({ wanted: null, reason: 'no native addon: the host default' });
    // Spare streams help only an algorithm that backs off on every loss.
    expect([isLossBased('cubic'), isLossBased('reno'), isLossBased('bbr'), isLossBased(''), isLossBased(null)]).toEqual([true, true, false, false, false]);
  });

  it.skipIf(!native || !other)('applies to both ends of real TLS data streams, before any data', async () => {
    const { listener, port } = await listeners.open(pki.a);
    const exp = expectation(pki.b, 3);
    const accepted = listener.expect({ ...exp, peerNodeId: pki.b.nodeId });
    const dialed: TLSSocket[] = await dialSession(pki.b, `127.0.0.1:${port}`, { ...exp, peerNodeId: pki.a.nodeId });
    const served = await accepted;
    open.push(...dialed, ...served);
    const plan = { wanted: other!, reason: 'test' };
    expect(applyCongestion(dialed, plan)).toEqual({ name: other });
    expect(applyCongestion(served, plan)).toEqual({ name: other });
    expect(applyCongestion(dialed, { wanted: 'no_such_cc', reason: 'test' })).toMatchObject({ name: other, refused: expect.stringContaining('ENOENT') });
  });
});
