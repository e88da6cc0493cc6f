import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chunkCrc, nativeChunkCrc, nativeCrcAccelerated, tableCrc32, twinChunkCrc, type ChunkCrc } from '../../../src/transfer/checksum/chunk-crc.js';
import { chunkChecksum, chunkChecksumOff, chunkChecksumParts } from '../../../src/transfer/checksum/hash.js';
import { nativeReason } from './impls.js';

// The chunk CRC-32, native (PCLMULQDQ folding) and twin (zlib.crc32), against zlib and a plain
// table on every length around the folding's steps, unaligned starts, running values carried
// across pieces, and random inputs. The native row is skipped only when the addon is not built.

if (nativeReason !== undefined) console.warn(`chunk CRC conformance: native row skipped: ${nativeReason}`);
const zlibCrc = (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32;
const impls: Array<[string, ChunkCrc | undefined]> = [
  ['native', nativeReason === undefined ? nativeChunkCrc() : undefined],
  ['twin', twinChunkCrc],
];

describe.each(impls)('chunk CRC-32 (%s)', (_name, impl) => {
  const crc = (d: Uint8Array, previous = 0): number => impl!.crc32(d, previous);
  it.skipIf(impl === undefined)('matches the check value and zlib on every length to 600 and past each folding step', () => {
    expect(crc(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc(Buffer.alloc(0))).toBe(0);
    expect(crc(Buffer.alloc(0), 0x12345678)).toBe(0x12345678);
    expect(crc(new Uint8Array(new ArrayBuffer(0)), 0x12345678)).toBe(0x12345678);
    expect(tableCrc32(Buffer.alloc(0), 0x12345678)).toBe(0x12345678);
    const data = randomBytes(70_000);
    const lengths = [...Array.from({ length: 601 }, (_, n) => n), 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 69_999];
    for (const n of lengths) {
      // From an odd offset too: the folded loads are unaligned.
      for (const at of [0, 1, 7]) {
        const d = data.subarray(at, at + n);
        expect(crc(d), `length ${n} at ${at}`).toBe(zlibCrc(d) >>> 0);
      }
    }
  });

  it.skipIf(impl === undefined)('carries a running value: pieces cut anywhere give the whole', () => {
    for (let round = 0; round < 50; round++) {
      const data = randomBytes(1 + Math.floor(Math.random() * 300_000));
      const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => Math.floor(Math.random() * data.length)).sort((a, b) => a - b);
      let running = 0;
      let at = 0;
      for (const c of [...cuts, data.length]) {
        running = crc(data.subarray(at, c), running);
        at = c;
      }
      expect(running, `${data.length} bytes cut at ${cuts.join(',')}`).toBe(zlibCrc(data) >>> 0);
    }
  });

  it.skipIf(impl === undefined)('agrees with zlib on random inputs and running values (differential)', () => {
    for (let round = 0; round < 300; round++) {
      const data = randomBytes(Math.floor(Math.random() ** 3 * 4_200_000));
      const previous = randomBytes(4).readUInt32LE(0);
      // (zlib.crc32 of an empty view over a zero-length buffer answers 0: the table is the reference there.)
      const expected = data.length === 0 ? tableCrc32(data, previous) : zlibCrc(data, previous) >>> 0;
      expect(crc(data, previous), `${data.length} bytes from ${previous}`).toBe(expected);
    }
  });

  it.skipIf(impl === undefined)('crc32Off gives crc32(data, 0), for many buffers summed at once too', async () => {
    expect(await impl!.crc32Off(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(await impl!.crc32Off(Buffer.alloc(0))).toBe(0);
    expect(await impl!.crc32Off(new Uint8Array(new ArrayBuffer(0)))).toBe(0);
    const inputs = Array.from({ length: 40 }, () => randomBytes(Math.floor(Math.random() ** 2 * 5_000_000)));
    // From an odd offset too, as a frame's data sits after its header.
    const views = inputs.map((b) => b.subarray(Math.min(3, b.length)));
    const sums = await Promise.all(views.map((v) => impl!.crc32Off(v)));
    expect(sums).toEqual(views.map((v) => (v.length === 0 ? 0 : zlibCrc(v) >>> 0)));
  });
});

describe('chunk CRC-32 choice', () => {
  it('the table fallback agrees with zlib', () => {
    for (let k = 0; k < 20; k++) {
      const b = randomBytes(k * 997);
      expect(tableCrc32(b, 0)).toBe(zlibCrc(b) >>> 0);
    }
    expect(tableCrc32(Buffer.from('123456789'), 0)).toBe(0xcbf43926);
  });

  it('chunkChecksum and chunkChecksumParts use the chosen implementation', () => {
    const parts = [randomBytes(100), randomBytes(5000), randomBytes(3)];
    expect(chunkChecksumParts(parts)).toBe(zlibCrc(Buffer.concat(parts)) >>> 0);
    expect(chunkChecksum(parts[1]!)).toBe(chunkCrc.crc32(parts[1]!, 0));
  });

  const folds = /\bpclmulqdq\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) && /\bsse4_1\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  it.skipIf(nativeReason !== undefined || !folds || process.env.FERRY_NO_NATIVE === '1')('on a CPU with PCLMULQDQ the native CRC folds and is the one chosen', () => {
    expect(nativeCrcAccelerated()).toBe(true);
    expect(chunkCrc.kind).toBe('native');
  });

  it.skipIf(nativeReason !== undefined)('the native CRC refuses what is not bytes or a running value', () => {
    const native = nativeChunkCrc();
    expect(() => native.crc32('abc' as unknown as Uint8Array, 0)).toThrow();
    expect(() => native.crc32(new Uint16Array(4) as unknown as Uint8Array, 0)).toThrow();
    expect(() => native.crc32(Buffer.alloc(4), -1)).toThrow();
    expect(() => native.crc32(Buffer.alloc(4), 2 ** 32)).toThrow();
    expect(() => native.crc32(Buffer.alloc(4), 1.5)).toThrow();
    expect(() => native.crc32Off('abc' as unknown as Uint8Array)).toThrow(expect.objectContaining({ syscall: 'crc32' }));
    expect(() => native.crc32Off(new Uint16Array(4) as unknown as Uint8Array)).toThrow(expect.objectContaining({ syscall: 'crc32' }));
  });

  it('chunkChecksumOff sums one big part off the thread and anything else here, with the same values', async () => {
    const big = randomBytes(1024 * 1024 + 7);
    const small = [randomBytes(1000), randomBytes(77)];
    expect(await chunkChecksumOff([big])).toBe(zlibCrc(big) >>> 0);
    expect(await chunkChecksumOff(small)).toBe(zlibCrc(Buffer.concat(small)) >>> 0);
    expect(await chunkChecksumOff([big, big])).toBe(zlibCrc(Buffer.concat([big, big])) >>> 0);
    expect(await chunkChecksumOff([])).toBe(0);
  });
});
