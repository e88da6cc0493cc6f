import { chooseNative, nativeExports } from '../../fs/load.js';
import { RawFsError } from '../../fs/raw.js';
import { chunkCrc, nativeCrcAccelerated } from './chunk-crc.js';
import type { StreamingHash } from './hash.js';

/** What a read needs of an open file: a node:fs/promises FileHandle, whose descriptor stays open while it reads. */
export interface ReadableFile {
  readonly fd: number;
  read(buf: Buffer, at: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * How the source reads a chunk of a file it sends: the bytes, their CRC-32 (the chunk's
 * checksum on the wire) and, for a whole file, the file's checksum fed with them. Natively
 * (native/src/read-chunk.c) the read and both sums run on libuv's thread pool, while the bytes
 * are still in that core's cache: the source's main thread, which also seals and writes every
 * frame to the sockets, spent ~0.33 s per 2 GiB on the two sums (profiled, case a) and became
 * the session's busiest thread. The twin reads through the FileHandle and sums on the calling
 * thread, as before. Both give the same bytes, CRCs and digests: the conformance and
 * differential suite in test/unit/native-hash/summed-read.test.ts holds them to it.
 */
export interface SummedReads {
  readonly kind: 'native' | 'twin';
  /**
   * Read `length` bytes at file `position` into buf[at, at + length): resolves with the bytes
   * read (fewer only at end of file) and their CRC-32. `hash`, when given, is fed exactly those
   * bytes, in call order (one read at a time per hash); `hashDone` runs once it no longer needs
   * them (at once if no hash). A read that fails rejects with the errno error (`code` EBADF,
   * EIO, ...) and feeds nothing. `buf` must stay attached until the promise settles (the pool's
   * buffers are never transferred).
   */
  read(fh: ReadableFile, buf: Buffer, at: number, length: number, position: number, hash: StreamingHash | null, hashDone: () => void): Promise<{ bytesRead: number; crc: number }>;
}

interface NativeReadBinding {
  readChunk(fd: number, buf: Uint8Array, at: number, length: number, position: number, xxh3: object | null): Promise<{ bytesRead: number; crc: number }>;
}

function checkRange(buf: Buffer, at: number, length: number, position: number): void {
  if (!Number.isInteger(at) || !Number.isInteger(length) || at < 0 || length < 0 || at + length > buf.length) {
    throw new RangeError(`a read of ${length} bytes at ${at} does not fit a buffer of ${buf.length}`);
  }
  if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`a file position is a non-negative safe integer, not ${position}`);
}

export const twinSummedReads: SummedReads = {
  kind: 'twin',
  async read(fh, buf, at, length, position, hash, hashDone) {
    checkRange(buf, at, length, position);
    // Until the chunk is whole or the file ends, as the native read does (a network file
    // system may answer in pieces).
    let bytesRead = 0;
    while (bytesRead < length) {
      const r = await fh.read(buf, at + bytesRead, length - bytesRead, position + bytesRead);
      if (r.bytesRead === 0) break;
      bytesRead += r.bytesRead;
    }
    const data = buf.subarray(at, at + bytesRead);
    const crc = chunkCrc.crc32(data, 0);
    if (hash) hash.update(data, hashDone);
    else hashDone();
    return { bytesRead, crc };
  },
};

export function nativeSummedReads(): SummedReads {
  const n = nativeExports<NativeReadBinding>(['readChunk']);
  return {
    kind: 'native',
    async read(fh, buf, at, length, position, hash, hashDone) {
      checkRange(buf, at, length, position);
      // The addon feeds only its own XXH3 state; any other hash (sha256, md5, a worker's) is fed here.
      const state = hash?.nativeXxh3 ?? null;
      let r: { bytesRead: number; crc: number };
      try {
        r = await n.readChunk(fh.fd, buf, at, length, position, state);
      } catch (err) {
        // The addon's errors carry errno and syscall; the twin's (Node's) a code: give both.
        const errno = (err as { errno?: unknown } | null)?.errno;
        throw typeof errno === 'number' ? RawFsError.fromErrno(errno, 'read') : err;
      }
      if (hash && state === null) hash.update(buf.subarray(at, at + r.bytesRead), hashDone);
      else hashDone();
      return r;
    },
  };
}

/** Native where the addon loads and its CRC folds (byte by byte it would be slower than zlib's). */
function loadNative(): SummedReads {
  if (!nativeCrcAccelerated()) throw new Error('the native CRC-32 cannot fold on this CPU (no PCLMULQDQ)');
  return nativeSummedReads();
}

export const summedReads: SummedReads = chooseNative(process.env, loadNative, twinSummedReads).impl;
