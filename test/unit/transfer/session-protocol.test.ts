import { randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import type net from 'node:net';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionFrameType } from '../../../src/protocol/data-frames.js';
import { chunkChecksum } from '../../../src/transfer/checksum/index.js';
import { runSession } from '../../../src/transfer/index.js';
import { encodeFrame, encodeJsonFrame, FrameDecoder, type Frame } from '../../../src/transfer/wire/frame-codec.js';
import { encodeBatchDataHead, encodeChunkHead } from '../../../src/transfer/wire/session-frames.js';
import type { TransferItem } from '../../../src/protocol/session.js';
import { makeSpec, recorder, rejection, removeAll, resolverFor, socketPairs, tempDir } from './session-fixture.js';

let root: string;

beforeEach(async () => {
  root = await tempDir();
});
afterEach(async () => {
  await removeAll(root);
});

/** A hand-driven peer on raw sockets: reads frames from its control stream, writes whatever the test wants. */
class FakePeer {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  constructor(readonly sockets: net.Socket[]) {
    sockets[0]!.on('data', (chunk: Buffer) => {
      this.frames.push(...this.decoder.push(chunk));
      this.wake?.();
    });
    sockets[0]!.on('close', () => { this.closed = true; this.wake?.(); });
    for (const s of sockets) s.on('error', () => undefined);
  }

  async next(type?: number): Promise<Frame> {
    for (;;) {
      const at = this.frames.findIndex((f) => type === undefined || f.type === type);
      if (at >= 0) return this.frames.splice(at, 1)[0]!;
      if (this.closed) throw new Error(`peer closed before frame ${type}`);
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  json(type: number, value: unknown, stream = 0): void {
    this.sockets[stream]!.write(encodeJsonFrame(type, value));
  }

  raw(bytes: Buffer, stream = 0): void {
    this.sockets[stream]!.write(bytes);
  }
}

async function destinationAgainstFake(items: TransferItem[], script: (peer: FakePeer) => Promise<void>): Promise<{ err: ReturnType<typeof rejection>; errorFrame: Record<string, unknown> }> {
  const pairs = await socketPairs(2);
  const peer = new FakePeer(pairs.a);
  try {
    const run = runSession({
      spec: makeSpec('destination', items, { parallelism: 1 }, randomUUID()), streams: pairs.b,
      resolver: resolverFor(root), reporter: recorder(), signal: new AbortController().signal, tuning: { closeGraceMs: 200 },
    });
    const settled = Promise.allSettled([run]);
    await peer.next(SessionFrameType.START);
    await script(peer);
    const [result] = await settled;
    const errorFrame = JSON.parse((await peer.next(SessionFrameType.ERROR)).payload.toString('utf8')) as Record<string, unknown>;
    return { err: rejection(result!), errorFrame };
  } finally {
    pairs.close();
  }
}

const DIR_ITEM: TransferItem[] = [{ sourcePath: '/s', destinationPath: '/d', recursive: true }];
const FILE_ITEM: TransferItem[] = [{ sourcePath: '/f', destinationPath: '/f', recursive: false }];

describe('transfer session: a malformed peer gets a clean failure', () => {
  const cases: Array<[string, TransferItem[], (p: FakePeer) => Promise<void>]> = [
    ['a MANIFEST that is not JSON', DIR_ITEM, async (p) => p.raw(encodeFrame(SessionFrameType.MANIFEST, Buffer.from('{oops')))],
    ['a MANIFEST entry with unknown keys', DIR_ITEM, async (p) => p.json(SessionFrameType.MANIFEST, { entries: [{ i: 0, item: 0, path: '', kind: 'dir', mode: 0o755, evil: 1 }] })],
    ['a path that climbs out with ..', DIR_ITEM, async (p) => p.json(SessionFrameType.MANIFEST, { entries: [
      { i: 0, item: 0, path: '', kind: 'dir', mode: 0o755 },
      { i: 1, item: 0, path: '../escape', kind: 'file', size: 1, mtimeMs: 0, mode: 0o644 },
    ] })],
    ['a child announced outside the directory being listed', DIR_ITEM, async (p) => p.json(SessionFrameType.MANIFEST, { entries: [
      { i: 0, item: 0, path: '', kind: 'dir', mode: 0o755 },
      { i: 1, item: 0, path: 'not-announced/file', kind: 'file', size: 1, mtimeMs: 0, mode: 0o644 },
    ] })],
    ['entries out of sequence', DIR_ITEM, async (p) => p.json(SessionFrameType.MANIFEST, { entries: [{ i: 5, item: 0, path: '', kind: 'dir', mode: 0o755 }] })],
    ['a frame length over the limit', DIR_ITEM, async (p) => p.raw(Buffer.from([0xff, 0xff, 0xff, 0xff, SessionFrameType.MANIFEST]))],
    ['an unknown frame type', DIR_ITEM, async (p) => p.raw(encodeFrame(0x7f, Buffer.alloc(3)))],
    ['a CHUNK nobody asked for', FILE_ITEM, async (p) => {
      const data = Buffer.from('abc');
      p.raw(Buffer.concat([encodeChunkHead(0, 0, chunkChecksum(data), 3), data]), 1);
    }],
    ['a CHUNK header cut short', FILE_ITEM, async (p) => p.raw(encodeFrame(SessionFrameType.CHUNK, Buffer.alloc(7)), 1)],
    ['a tar batch whose entry name differs from the announced file', FILE_ITEM, async (p) => {
      p.json(SessionFrameType.MANIFEST, { entries: [{ i: 0, item: 0, path: '', kind: 'file', size: 4, mtimeMs: 0, mode: 0o644 }] });
      await p.next(SessionFrameType.REQUEST);
      const pack = tar.pack();
      pack.entry({ name: '../../etc/evil', size: 4 }, Buffer.from('evil'));
      pack.finalize();
      const parts: Buffer[] = [];
      for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
      const body = Buffer.concat(parts);
      p.json(SessionFrameType.BATCH_BEGIN, { batch: 0, files: [{ i: 0, checksum: 'a'.repeat(64) }] }, 1);
      p.raw(Buffer.concat([encodeBatchDataHead(0, 0, chunkChecksum(body), body.length), body]), 1);
      p.json(SessionFrameType.BATCH_END, { batch: 0 }, 1);
    }],
  ];
  for (const [what, items, script] of cases) {
    it(`refuses ${what}`, async () => {
      const { err, errorFrame } = await destinationAgainstFake(items, script);
      expect(err.code).toBe('Transfer.PeerProtocol');
      expect(err.details?.['eventCode']).toBe('ENDPOINT_ERROR');
      expect(errorFrame).toMatchObject({ code: 'Transfer.PeerProtocol', eventCode: 'ENDPOINT_ERROR' });
      // Nothing was written anywhere but (possibly) the destination directory itself.
      expect((await readdir(root, { recursive: true })).filter((n) => !String(n).startsWith('d'))).toEqual([]);
      expect((await readdir(root, { recursive: true })).filter((n) => String(n).includes('.ferry-part.'))).toEqual([]);
    });
  }

  it('a source refuses a destination that asks for a file it never announced', async () => {
    await mkdir(join(root, 's'));
    await writeFile(join(root, 's/a'), 'a');
    const pairs = await socketPairs(2);
    const peer = new FakePeer(pairs.b);
    try {
      const run = Promise.allSettled([runSession({
        spec: makeSpec('source', DIR_ITEM, { parallelism: 1 }, randomUUID()), streams: pairs.a,
        resolver: resolverFor(root), reporter: recorder(), signal: new AbortController().signal, tuning: { closeGraceMs: 200 },
      })]);
      peer.json(SessionFrameType.START, { window: 100 });
      await peer.next(SessionFrameType.MANIFEST);
      peer.json(SessionFrameType.REQUEST, { files: [{ i: 99, ranges: [{ offset: 0, length: 1 }] }] });
      const [result] = await run;
      expect(rejection(result!).code).toBe('Transfer.PeerProtocol');
      expect(JSON.parse((await peer.next(SessionFrameType.ERROR)).payload.toString('utf8'))).toMatchObject({ code: 'Transfer.PeerProtocol' });
    } finally {
      pairs.close();
    }
  });

  it('a peer that drops the connection fails the session with CONNECTION_BROKEN', async () => {
    const pairs = await socketPairs(2);
    const peer = new FakePeer(pairs.a);
    try {
      const run = Promise.allSettled([runSession({
        spec: makeSpec('destination', DIR_ITEM, { parallelism: 1 }, randomUUID()), streams: pairs.b,
        resolver: resolverFor(root), reporter: recorder(), signal: new AbortController().signal, tuning: { closeGraceMs: 200 },
      })]);
      await peer.next(SessionFrameType.START);
      for (const s of pairs.a) s.destroy();
      const [result] = await run;
      const err = rejection(result!);
      expect(err.code).toBe('Transfer.ConnectionLost');
      expect(err.details?.['eventCode']).toBe('CONNECTION_BROKEN');
    } finally {
      pairs.close();
    }
  });
});
