import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCa, issueServerCertificate } from '../../../src/pki/index.js';
import { encodeFrame } from '../../../src/transfer/wire/frame-codec.js';
import { FrameAssembler } from '../../../src/transfer/wire/frame-assembler.js';
import { FrameBufferPool } from '../../../src/transfer/wire/frame-pool.js';
import { FrameStream } from '../../../src/transfer/wire/frame-stream.js';
import type { InFrame } from '../../../src/transfer/wire/scatter-decoder.js';

/** Frames of every size class: empty, small (plain allocation), pooled, bigger than the pool's buffers. */
function sampleFrames(): Array<{ type: number; payload: Buffer }> {
  return [0, 1, 5, 4096, 70_000, 300_000, 0, 65_536, 1_200_000, 17].map((n, k) => ({ type: (k * 37) % 256, payload: randomBytes(n) }));
}

function split(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, 1 + Math.floor(Math.random() * 40_000));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('FrameBufferPool', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('lets go of the buffers that stayed idle through a whole interval, keeping what work still uses', () => {
    vi.useFakeTimers();
    const pool = new FrameBufferPool(1000, 8, 1000);
    const taken = [1, 2, 3, 4].map(() => pool.take(1000));
    for (const t of taken) t.release();
    expect(pool.idle).toBe(4);
    // The first buffer back was idle the whole first interval; the other three came back during it.
    vi.advanceTimersByTime(1000);
    expect(pool.idle).toBe(3);
    // Work keeps using two of them: only the one nobody touched goes.
    const a = pool.take(10);
    const b = pool.take(10);
    a.release();
    b.release();
    vi.advanceTimersByTime(1000);
    expect(pool.idle).toBe(2);
    // No work at all: the rest goes, and a later take allocates afresh.
    vi.advanceTimersByTime(1000);
    expect(pool.idle).toBe(0);
    expect(pool.take(500).buf.length).toBe(500);
  });

  it('never keeps more idle buffers than its cap', () => {
    const pool = new FrameBufferPool(1000, 2, 1000);
    const taken = [1, 2, 3].map(() => pool.take(1000));
    for (const t of taken) t.release();
    taken[0]!.release();
    expect(pool.idle).toBe(2);
  });
});

describe('FrameAssembler', () => {
  it('rebuilds frames fed in arbitrary pieces, each payload in one buffer, big ones pooled and reused', () => {
    const pool = new FrameBufferPool(400_000, 4);
    const got: InFrame[] = [];
    const a = new FrameAssembler((f) => got.push(f), 2_000_000, pool);
    const frames = sampleFrames();
    for (const piece of split(Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload))))) a.feed(piece);
    expect(a.pending).toBe(0);
    expect(got.map((f) => f.type)).toEqual(frames.map((f) => f.type));
    got.forEach((f, k) => {
      expect(f.parts.length).toBeLessThanOrEqual(1);
      expect(f.payload.equals(frames[k]!.payload)).toBe(true);
    });
    // 70_000, 300_000 and 65_536 came from the pool; 1_200_000 is over its capacity.
    for (const f of got) f.release();
    expect(pool.idle).toBe(3);
    // Released buffers carry the next frames.
    const again: InFrame[] = [];
    const b = new FrameAssembler((f) => again.push(f), 2_000_000, pool);
    b.feed(encodeFrame(1, Buffer.alloc(100_000, 7)));
    expect(pool.idle).toBe(2);
    expect(again[0]!.payload.equals(Buffer.alloc(100_000, 7))).toBe(true);
  });

  it('refuses an oversized length before buffering its payload', () => {
    const a = new FrameAssembler(() => undefined, 1000);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1001, 0);
    expect(() => a.feed(head)).toThrow(/over the 1000-byte limit/);
  });

  it('reports the bytes of an unfinished frame as pending', () => {
    const a = new FrameAssembler(() => undefined);
    a.feed(encodeFrame(3, Buffer.alloc(10)).subarray(0, 8));
    expect(a.pending).toBe(8);
  });
});

describe('FrameStream reading into its own buffers', () => {
  let cert: { certPem: string; keyPem: string };
  let caPem: string;
  beforeAll(() => {
    const ca = createCa({ commonName: 'wire test CA', keyBits: 2048 });
    caPem = ca.certPem;
    cert = issueServerCertificate(ca, ['127.0.0.1']);
  });

  /** A TLS connection whose server side was accepted by tls.Server (no `onread` possible there). */
  async function tlsPair(): Promise<{ server: TLSSocket; client: TLSSocket; close(): void }> {
    const srv = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.3' });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const accepted = once(srv, 'secureConnection') as Promise<[TLSSocket]>;
    const client = tls.connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, ca: caPem });
    await once(client, 'secureConnect');
    const [server] = await accepted;
    srv.close();
    return { server, client, close: () => { client.destroy(); server.destroy(); } };
  }

  async function receiveAll(stream: FrameStream, consumeSlowly: boolean): Promise<InFrame[]> {
    const out: InFrame[] = [];
    for (;;) {
      const f = await stream.next();
      if (!f) return out;
      out.push(f);
      if (consumeSlowly) await new Promise<void>((r) => setImmediate(r));
    }
  }

  for (const [slow, side] of [[false, 'accepted'], [true, 'accepted'], [false, 'dialed']] as const) {
    it(`delivers every frame intact on ${side === 'accepted' ? 'an accepted' : 'a dialed'} TLS socket, bytes buffered before it included${slow ? ', under backpressure' : ''}`, async () => {
      const pair = await tlsPair();
      const { close } = pair;
      // The reading end is `server` below: the accepted socket, or the dialing one.
      const server = side === 'accepted' ? pair.server : pair.client;
      const client = side === 'accepted' ? pair.client : pair.server;
      try {
        const frames = [...sampleFrames(), ...sampleFrames()];
        const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
        // Some bytes reach the socket's own buffer before the stream takes over, as after a handshake.
        client.write(wire.subarray(0, 3000));
        await once(server, 'readable');
        const stream = new FrameStream(server, 'test stream', slow ? 100_000 : 8 << 20);
        stream.startReading();
        expect(stream.readsDirect).toBe(true);
        for (const piece of split(wire.subarray(3000))) client.write(piece);
        client.end();
        const got = await receiveAll(stream, slow);
        expect(got.map((f) => f.type)).toEqual(frames.map((f) => f.type));
        got.forEach((f, k) => expect(f.payload.equals(frames[k]!.payload)).toBe(true));
      } finally {
        close();
      }
    });
  }

  it('fails on an oversized frame and drops what follows', async () => {
    const { server, client, close } = await tlsPair();
    try {
      const stream = new FrameStream(server, 'test stream', 1 << 20);
      stream.startReading();
      const head = Buffer.alloc(5);
      head.writeUInt32BE(0xffff_ffff, 0);
      client.write(Buffer.concat([encodeFrame(1, Buffer.from('ok')), head, randomBytes(50_000)]));
      expect((await stream.next())?.payload.toString()).toBe('ok');
      await expect(stream.next()).rejects.toMatchObject({ code: 'Transfer.PeerProtocol' });
    } finally {
      close();
    }
  });

  it('falls back to data events when someone else reads the socket', async () => {
    const { server, client, close } = await tlsPair();
    try {
      let seen = 0;
      server.on('data', (d: Buffer) => { seen += d.length; });
      const stream = new FrameStream(server, 'test stream', 1 << 20);
      stream.startReading();
      expect(stream.readsDirect).toBe(false);
      const frame = encodeFrame(9, randomBytes(200_000));
      client.end(frame);
      const got = await receiveAll(stream, false);
      expect(got).toHaveLength(1);
      expect(seen).toBe(frame.length);
    } finally {
      close();
    }
  });
});


