import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHUNK_HEADER_BYTES } from '../../../src/protocol/data-frames.js';
import { directIoTotals, PartialFile } from '../../../src/transfer/chunks/partial-file.js';
import { refByPath, VerifyTracker } from '../../../src/transfer/chunks/verify-tracker.js';
import type { StreamingHash } from '../../../src/transfer/checksum/hash.js';
import { allocAligned, DIRECT_IO_ALIGN, isDirectIoAligned } from '../../../src/transfer/util/aligned-buffers.js';
import { FrameBufferPool, sharedFramePool } from '../../../src/transfer/wire/frame-pool.js';
import { sharedIoPool } from '../../../src/transfer/workers/io-pool.js';
import { ok, runPair } from './session-fixture.js';
import { dst, src } from './temp-roots.js';

const MiB = 1024 * 1024;

/** Whether the file system under `dir` takes O_DIRECT (tmpfs before Linux 6.6 does not): the expected split of direct and cached bytes depends on it. */
async function directSupported(dir: string): Promise<boolean> {
  const probe = join(dir, '.direct-probe');
  await writeFile(probe, '');
  try {
    const fh = await open(probe, constants.O_WRONLY | constants.O_DIRECT);
    try {
      await fh.write(allocAligned(DIRECT_IO_ALIGN), 0, DIRECT_IO_ALIGN, 0);
      return true;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  } finally {
    await unlink(probe);
  }
}

function partial(path: string, directIo = true): PartialFile {
  return new PartialFile(path, new Set<string>(), (op) => op, { directIo, flushBytes: 0 });
}

/** `data` copied into an aligned buffer, as a received chunk lies in the frame pool. */
function alignedCopy(data: Buffer): Buffer {
  const buf = allocAligned(data.length);
  data.copy(buf);
  return buf;
}

describe('aligned buffers', () => {
  it('knows which buffers start on a block boundary', () => {
    const buf = allocAligned(3 * DIRECT_IO_ALIGN);
    expect(buf.length).toBe(3 * DIRECT_IO_ALIGN);
    expect(isDirectIoAligned(buf)).toBe(true);
    expect(isDirectIoAligned(buf.subarray(DIRECT_IO_ALIGN))).toBe(true);
    expect(isDirectIoAligned(buf.subarray(16))).toBe(false);
    expect(isDirectIoAligned(Buffer.allocUnsafeSlow(DIRECT_IO_ALIGN))).toBe(false);
  });

  it('the frame pool puts a CHUNK payload so that its data (after the header) is aligned', () => {
    const { buf, release } = sharedFramePool.take(4 * MiB + CHUNK_HEADER_BYTES);
    expect(isDirectIoAligned(buf.subarray(CHUNK_HEADER_BYTES))).toBe(true);
    expect(buf.length).toBe(4 * MiB + CHUNK_HEADER_BYTES);
    release();
    const plain = new FrameBufferPool(100_000, 2).take(70_000);
    expect(isDirectIoAligned(plain.buf)).toBe(false);
  });
});

describe('PartialFile with directIo', () => {
  it('writes aligned chunks direct and an unaligned tail through the cache, in any order', async () => {
    const path = join(dst, 'p');
    const data = randomBytes(3 * MiB + 1000);
    const file = partial(path);
    // The last piece: 1000 bytes past the last whole block go through the cache.
    await file.writev([alignedCopy(data.subarray(2 * MiB))], 2 * MiB);
    await file.writev([alignedCopy(data.subarray(0, MiB))], 0);
    await file.writev([alignedCopy(data.subarray(MiB, 2 * MiB))], MiB);
    await file.checkpoint();
    await file.close();
    expect((await readFile(path)).equals(data)).toBe(true);
    const direct = await directSupported(dst);
    expect(file.directBytes).toBe(direct ? 3 * MiB : 0);
  });

  it('writes through the cache what cannot go direct: unaligned buffers or offsets, directIo off', async () => {
    const data = randomBytes(2 * MiB);
    const unalignedBuffer = partial(join(dst, 'a'));
    await unalignedBuffer.writev([Buffer.from(data)], 0);
    const unalignedOffset = partial(join(dst, 'b'));
    await unalignedOffset.writev([alignedCopy(data.subarray(0, 100))], 0);
    await unalignedOffset.writev([alignedCopy(data.subarray(100))], 100);
    const off = partial(join(dst, 'c'), false);
    await off.writev([alignedCopy(data)], 0);
    for (const f of [unalignedBuffer, unalignedOffset, off]) {
      await f.checkpoint();
      await f.close();
      expect(f.directBytes).toBe(0);
      expect((await readFile(f.path)).equals(data)).toBe(true);
    }
  });

  it('starts over in a truncated file after restart(), direct writes included', async () => {
    const path = join(dst, 'p');
    const first = randomBytes(2 * MiB);
    const second = randomBytes(MiB + 5);
    const file = partial(path);
    await file.writev([alignedCopy(first)], 0);
    file.restart();
    await file.writev([alignedCopy(second)], 0);
    await file.checkpoint();
    await file.close();
    expect((await readFile(path)).equals(second)).toBe(true);
  });
});

describe('verify reading back with O_DIRECT', () => {
  type FileHash = StreamingHash & Required<Pick<StreamingHash, 'updateFromFile'>>;
  const workerHash = (): FileHash => sharedIoPool('hash', 1).createHash('sha256') as FileHash;

  it('hashes what was written, at aligned and unaligned offsets, and rejects a short file', async () => {
    const data = randomBytes(9 * MiB + 321);
    const path = join(dst, 'p');
    await writeFile(path, data);
    const expected = createHash('sha256').update(data).digest('hex');
    const direct = await directSupported(dst);
    // Steps of whole MiB: every read starts aligned and goes direct (the last one past the end
    // of the file, rounded up to a block); steps of 100,000 bytes: only the first read starts
    // aligned, the others go through the cache.
    const aligned = new VerifyTracker(refByPath(path), data.length, workerHash(), MiB, true);
    for (let o = 0; o < data.length; o += MiB) aligned.wrote(o, Math.min(MiB, data.length - o));
    expect(await aligned.finish()).toBe(expected);
    expect(aligned.directBytes).toBe(direct ? data.length : 0);
    const unaligned = new VerifyTracker(refByPath(path), data.length, workerHash(), 100_000, true);
    for (let o = 0; o < data.length; o += 100_000) unaligned.wrote(o, Math.min(100_000, data.length - o));
    expect(await unaligned.finish()).toBe(expected);
    if (direct) expect(unaligned.directBytes).toBeGreaterThan(0);
    expect(unaligned.directBytes).toBeLessThan(data.length);
    const cached = new VerifyTracker(refByPath(path), data.length, workerHash(), MiB, false);
    cached.wrote(0, data.length);
    expect(await cached.finish()).toBe(expected);
    expect(cached.directBytes).toBe(0);
    const short = new VerifyTracker(refByPath(path), data.length + DIRECT_IO_ALIGN, workerHash(), MiB, true);
    short.wrote(0, data.length + DIRECT_IO_ALIGN);
    await expect(short.finish()).rejects.toMatchObject({ code: 'ESHORT' });
  });
});

describe('transfer session with default chunks (direct writes)', () => {
  it('moves a file of several 4 MiB chunks and an odd tail intact, verified', async () => {
    const data = randomBytes(13 * MiB + 4097);
    await writeFile(join(src, 'big'), data);
    const before = directIoTotals.bytesWritten;
    const r = await runPair({
      srcRoot: src, dstRoot: dst, items: [{ sourcePath: '/big', destinationPath: '/big', recursive: false }],
      options: { verifyChecksum: true, parallelism: 3 },
    });
    const stats = ok(r.dst);
    expect((await readFile(join(dst, 'big'))).equals(data)).toBe(true);
    expect(stats).toMatchObject({ faults: 0, filesTransferred: 1 });
    // Received chunks lie aligned in the frame pool, so all but the last byte went direct.
    expect(directIoTotals.bytesWritten - before).toBe((await directSupported(dst)) ? 13 * MiB + 4096 : 0);
  });
});
