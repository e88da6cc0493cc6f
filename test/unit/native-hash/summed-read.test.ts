import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createInlineHash, hashBuffer } from '../../../src/transfer/checksum/hash.js';
import { nativeSummedReads, twinSummedReads, type SummedReads } from '../../../src/transfer/checksum/summed-read.js';
import { nativeReason } from './impls.js';

// The source's chunk reads (checksum/summed-read.ts): native (pread, CRC-32 and XXH3-128 on
// libuv's thread pool) and twin (FileHandle.read, sums on the caller's thread) give the same
// bytes, CRCs and whole-file digests, and fail the same way. The native row is skipped only
// when the addon is not built.

if (nativeReason !== undefined) console.warn(`summed reads: native row skipped: ${nativeReason}`);
const zlibCrc = (zlib as unknown as { crc32: (d: Uint8Array, v?: number) => number }).crc32;
const impls: Array<[string, SummedReads | undefined]> = [
  ['native', nativeReason === undefined ? nativeSummedReads() : undefined],
  ['twin', twinSummedReads],
];
const dir = mkdtempSync(join(tmpdir(), 'ferry-summed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileOf(name: string, data: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** Read `path` in chunks of `chunk` bytes through `impl`, feeding an `algorithm` hash: every read's result and the digest. */
async function readAll(impl: SummedReads, path: string, size: number, chunk: number, algorithm: 'xxh128' | 'sha256') {
  const fh = await open(path, 'r');
  const hash = await createInlineHash(algorithm);
  const reads: Array<{ bytesRead: number; crc: number }> = [];
  const bytes: Buffer[] = [];
  let done = 0;
  try {
    for (let position = 0; position < size; position += chunk) {
      const at = 3; // not at the buffer's start: the offset is honoured
      const buf = Buffer.alloc(at + chunk + 5, 0xee);
      let released = 0;
      const r = await impl.read(fh, buf, at, Math.min(chunk, size - position), position, hash, () => { released += 1; });
      expect(released).toBe(1);
      expect(buf.subarray(0, at).every((b) => b === 0xee)).toBe(true);
      expect(buf.subarray(at + r.bytesRead).every((b) => b === 0xee)).toBe(true);
      reads.push(r);
      bytes.push(Buffer.from(buf.subarray(at, at + r.bytesRead)));
      done += r.bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { reads, data: Buffer.concat(bytes), digest: await hash.digest(), done };
}

describe.each(impls)('summed reads (%s)', (_name, impl) => {
  it.skipIf(impl === undefined)('reads the bytes, sums each chunk as zlib does, and feeds the whole-file hash in order', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 77);
    const path = fileOf(`whole-${_name}`, data);
    for (const algorithm of ['xxh128', 'sha256'] as const) {
      for (const chunk of [1, 4096, 65_537, 1024 * 1024]) {
        if (chunk === 1 && algorithm === 'sha256') continue;
        const size = chunk === 1 ? 300 : data.length;
        const r = await readAll(impl!, path, size, chunk, algorithm);
        expect(r.data.equals(data.subarray(0, size))).toBe(true);
        for (const [k, read] of r.reads.entries()) {
          expect(read.crc).toBe(zlibCrc(data.subarray(k * chunk, k * chunk + read.bytesRead)) >>> 0);
        }
        expect(r.digest).toBe(await hashBuffer(algorithm, data.subarray(0, size)));
      }
    }
  });

  it.skipIf(impl === undefined)('stops at the end of the file (a short count) and reads nothing past it', async () => {
    const data = randomBytes(10_000);
    const fh = await open(fileOf(`short-${_name}`, data), 'r');
    try {
      const buf = Buffer.alloc(8192);
      let released = 0;
      expect(await impl!.read(fh, buf, 0, 8192, 6000, null, () => { released += 1; })).toEqual({ bytesRead: 4000, crc: zlibCrc(data.subarray(6000)) >>> 0 });
      expect(await impl!.read(fh, buf, 0, 100, 20_000, null, () => { released += 1; })).toEqual({ bytesRead: 0, crc: 0 });
      expect(await impl!.read(fh, buf, 0, 0, 0, null, () => { released += 1; })).toEqual({ bytesRead: 0, crc: 0 });
      expect(released).toBe(3);
    } finally {
      await fh.close();
    }
  });

  it.skipIf(impl === undefined)('refuses ranges outside the buffer and bad positions, and a closed file, without feeding the hash', async () => {
    const fh = await open(fileOf(`bad-${_name}`, randomBytes(100)), 'r');
    const hash = await createInlineHash('xxh128');
    let released = 0;
    const done = (): void => { released += 1; };
    const buf = Buffer.alloc(64);
    for (const [at, length, position] of [[0, 65, 0], [60, 5, 0], [-1, 4, 0], [0, 4, -1], [0, 4, 0.5], [0.5, 4, 0], [0, 4, 2 ** 53]] as const) {
      await expect(impl!.read(fh, buf, at, length, position, hash, done)).rejects.toThrow(RangeError);
    }
    await fh.close();
    await expect(impl!.read(fh, buf, 0, 4, 0, hash, done)).rejects.toMatchObject({ code: 'EBADF', syscall: 'read' });
    expect(released).toBe(0);
    expect(await hash.digest()).toBe(await hashBuffer('xxh128', Buffer.alloc(0)));
  });
});

describe('summed reads: the twin on a file that answers in pieces (as a network file system may)', () => {
  it('reads on until the chunk is whole or the file ends', async () => {
    const data = randomBytes(50_000);
    let calls = 0;
    const piecewise = {
      fd: -1,
      async read(buf: Buffer, at: number, length: number, position: number) {
        calls += 1;
        const n = Math.max(0, Math.min(length, 777, data.length - position));
        data.copy(buf, at, position, position + n);
        return { bytesRead: n };
      },
    };
    const buf = Buffer.alloc(40_000);
    expect(await twinSummedReads.read(piecewise, buf, 0, 40_000, 0, null, () => undefined)).toEqual({ bytesRead: 40_000, crc: zlibCrc(data.subarray(0, 40_000)) >>> 0 });
    expect(calls).toBe(Math.ceil(40_000 / 777));
    expect(buf.equals(data.subarray(0, 40_000))).toBe(true);
    expect((await twinSummedReads.read(piecewise, buf, 0, 40_000, 30_000, null, () => undefined)).bytesRead).toBe(20_000);
  });
});

describe('summed reads: native and twin agree on random files and chunk sizes', () => {
  it.skipIf(nativeReason !== undefined)('the same reads, CRCs and digests', async () => {
    for (let round = 0; round < 20; round++) {
      const size = Math.floor(Math.random() * 2_000_000);
      const data = randomBytes(size);
      const path = fileOf(`random-${round}`, data);
      const chunk = 1 + Math.floor(Math.random() * 700_000);
      const algorithm = round % 4 === 3 ? 'sha256' : 'xxh128';
      const native = await readAll(nativeSummedReads(), path, size, chunk, algorithm);
      const twin = await readAll(twinSummedReads, path, size, chunk, algorithm);
      expect(native.reads).toEqual(twin.reads);
      expect(native.digest).toBe(twin.digest);
      expect(native.data.equals(data)).toBe(true);
    }
  });
});
