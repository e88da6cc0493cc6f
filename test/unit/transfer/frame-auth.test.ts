import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionFrameType } from '../../../src/protocol/data-frames.js';
import { createCipheriv } from 'node:crypto';
import { GMAC_TAG_BYTES, Gmac } from '../../../src/transfer/checksum/frame-gmac.js';
import { FRAME_MAC_BYTES, FrameOpener, FrameSealer, type FrameMac } from '../../../src/transfer/wire/frame-auth.js';
import { FrameAssembler } from '../../../src/transfer/wire/frame-assembler.js';
import type { InFrame } from '../../../src/transfer/wire/scatter-decoder.js';
import { encodeChunkHead, encodeSessionJson, parseChunkParts } from '../../../src/transfer/wire/session-frames.js';
import { BatchEndFrame } from '../../../src/protocol/data-frames.js';

/**
 * The MAC trailer of clear-text streams (encrypt_data false): what the sealer writes, the opener
 * accepts, and any alteration, reordering or cross-stream move fails. The MAC is AES-256-GMAC
 * (checksum/frame-gmac.ts) under the frame's sequence number as its nonce.
 */
function decode(bytes: Buffer): InFrame[] {
  const out: InFrame[] = [];
  new FrameAssembler((f) => out.push(f)).feed(bytes);
  return out;
}

function chunkFrame(i: number, offset: number, data: Buffer): Buffer[] {
  return [encodeChunkHead(i, offset, 0, data.length), data];
}

describe('frame MACs (AES-256-GMAC)', () => {
  const key = randomBytes(32);
  const macOf = async (k: Buffer): Promise<FrameMac> => new Gmac(k);

  it('seals and opens CHUNK and JSON frames in order; the payload comes back unchanged', async () => {
    const sealer = new FrameSealer(await macOf(key));
    const opener = new FrameOpener(await macOf(key));
    const data = randomBytes(100_000);
    const wire = Buffer.concat([
      ...sealer.seal(chunkFrame(7, 5 * 2 ** 32 + 3, data)),
      ...sealer.seal([encodeSessionJson(SessionFrameType.BATCH_END, BatchEndFrame, { batch: 9 })]),
    ]);
    const [a, b] = decode(wire).map((f) => opener.open(f));
    expect(a!.mac).toBe('ok');
    const c = parseChunkParts(a!);
    expect(c).toMatchObject({ fileIndex: 7, offset: 5 * 2 ** 32 + 3, length: data.length });
    expect(Buffer.concat(c.parts).equals(data)).toBe(true);
    expect(b!.mac).toBe('ok');
    expect(JSON.parse(b!.payload.toString())).toEqual({ batch: 9 });
  });

  it('marks a frame bad when any byte of it changed, header or data, and keeps later frames good', async () => {
    const data = randomBytes(4096);
    for (const at of [5 /* file index */, 12 /* offset */, 5 + 16 + 100 /* data */]) {
      const sealer = new FrameSealer(await macOf(key));
      const opener = new FrameOpener(await macOf(key));
      const first = Buffer.concat(sealer.seal(chunkFrame(1, 0, data)));
      const second = Buffer.concat(sealer.seal(chunkFrame(1, 4096, data)));
      first[at] = first[at]! ^ 1;
      const frames = decode(Buffer.concat([first, second])).map((f) => opener.open(f));
      expect(frames.map((f) => f.mac)).toEqual(['bad', 'ok']);
    }
  });

  it('refuses a frame replayed, reordered, or sealed for another stream or direction', async () => {
    const sealer = new FrameSealer(await macOf(key));
    const one = Buffer.concat(sealer.seal(chunkFrame(1, 0, randomBytes(64))));
    const two = Buffer.concat(sealer.seal(chunkFrame(1, 64, randomBytes(64))));
    const reordered = new FrameOpener(await macOf(key));
    expect(decode(Buffer.concat([two, one])).map((f) => reordered.open(f).mac)).toEqual(['bad', 'bad']);
    const replayed = new FrameOpener(await macOf(key));
    expect(decode(Buffer.concat([one, one])).map((f) => replayed.open(f).mac)).toEqual(['ok', 'bad']);
    const otherKey = new FrameOpener(await macOf(randomBytes(32)));
    expect(otherKey.open(decode(one)[0]!).mac).toBe('bad');
  });

  it('a frame too short to hold a MAC is a protocol error', async () => {
    const opener = new FrameOpener(await macOf(key));
    const short = decode(Buffer.from([0, 0, 0, FRAME_MAC_BYTES - 1, 0x20, ...randomBytes(FRAME_MAC_BYTES - 1)]))[0]!;
    expect(() => opener.open(short)).toThrow(expect.objectContaining({ code: 'Transfer.PeerProtocol' }));
  });
});

describe('Gmac', () => {
  it('is GCM\'s tag over associated data only: the published vector for an all-zero key and nonce', () => {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 13 (256-bit key, no data).
    expect(new Gmac(Buffer.alloc(32)).tag(0, []).toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b');
  });

  it('takes the sequence number as the nonce (4 zero bytes, then 8 big-endian) and the parts as if joined', () => {
    const k = randomBytes(32);
    const parts = [randomBytes(5), randomBytes(0), randomBytes(70_001), randomBytes(3)];
    const seq = 2 ** 32 + 7;
    const nonce = Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7]);
    const gcm = createCipheriv('aes-256-gcm', k, nonce, { authTagLength: 16 });
    gcm.setAAD(Buffer.concat(parts));
    gcm.final();
    const tag = new Gmac(k).tag(seq, parts);
    expect(tag.length).toBe(GMAC_TAG_BYTES);
    expect(tag.equals(gcm.getAuthTag())).toBe(true);
    expect(new Gmac(k).tag(seq + 1, parts).equals(tag)).toBe(false);
  });

  it('keeps its own copy of the key and refuses bad keys and nonces', () => {
    const k = randomBytes(32);
    const mac = new Gmac(k);
    const before = mac.tag(1, [Buffer.from('x')]);
    k.fill(0);
    expect(mac.tag(1, [Buffer.from('x')]).equals(before)).toBe(true);
    expect(() => new Gmac(randomBytes(16))).toThrow(RangeError);
    for (const seq of [-1, 0.5, 2 ** 53]) expect(() => mac.tag(seq, [])).toThrow(RangeError);
  });
});
