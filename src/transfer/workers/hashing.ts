import crypto from 'node:crypto';
import fs from 'node:fs';
import { closeRef, openRef, type FileRef } from '../../fs/file-ref.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';
import { installAlignedMemory } from '../checksum/aligned-memory.js';
import { fastHash, type Digest } from '../checksum/fast-hash.js';
import { DIRECT_IO_ALIGN, tryAllocAligned } from '../util/aligned-buffers.js';

/**
 * Hashing on the I/O worker (io-worker.ts): streaming hashes fed by the parent, ranges of a
 * file being written (verify-tracker.ts), whole files (op 'file'), and the synchronous hashes
 * that the batch reads and the commit verification use. xxh128 is XXH3-128 from
 * checksum/fast-hash.ts (the addon, or its hash-wasm twin: the same digests).
 */

// This worker's aligned buffers (the direct-read scratch) come from the addon when it loads.
installAlignedMemory();

export interface Hasher {
  update(data: Uint8Array): void;
  digest(): string;
}

/** A hash of its own (a streaming hash, or a whole file read with awaits between updates). */
export async function makeHasher(algorithm: ChecksumAlgorithm): Promise<Hasher> {
  if (algorithm === 'xxh128') {
    const h = await fastHash.xxh128();
    return { update: (d) => h.update(d), digest: () => h.digest().toString('hex') };
  }
  const h = crypto.createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

// One xxh128 instance for synchronous use (reset..digest never spans an await), made the first
// time an op needs xxh128, not at start: the twin's WebAssembly instance reserves about 10 GiB
// of address space, which an agent under an address-space limit (ulimit -v, LimitAS=) may not
// have, and sha256 and md5 never need it.
let xxhSync: Digest | null = null;
let xxhReady: Promise<void> | null = null;

/** Await before syncHasher(algorithm): null when nothing is to be made (not xxh128, or made). */
export function needXxh(algorithm: ChecksumAlgorithm | null): Promise<void> | null {
  if (algorithm !== 'xxh128' || xxhSync) return null;
  xxhReady = xxhReady || fastHash.xxh128().then((h) => { xxhSync = h; }, (err: unknown) => { xxhReady = null; throw err; });
  return xxhReady;
}

/** A hash to use from reset to digest without an await in between (after needXxh). */
export function syncHasher(algorithm: ChecksumAlgorithm): Hasher {
  if (algorithm === 'xxh128') {
    const h = xxhSync!;
    h.reset();
    return { update: (d) => h.update(d), digest: () => h.digest().toString('hex') };
  }
  const h = crypto.createHash(algorithm);
  return { update: (d) => h.update(d), digest: () => h.digest('hex') };
}

/** The one place this file opens files: read-only (`flags`: O_DIRECT added), never through a link. */
function openForRead(file: FileRef, flags: number = fs.constants.O_RDONLY): number {
  return openRef(file, flags);
}

const readAt = (fd: number, buf: Buffer, position: number): Promise<number> => new Promise((resolve, reject) => {
  fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n)));
});

/** Op 'file': hash a whole file, read here (asynchronously: stream updates go on meanwhile). */
export async function hashFile(file: FileRef, algorithm: ChecksumAlgorithm): Promise<{ checksum: string; bytes: number }> {
  const h = await makeHasher(algorithm);
  const fd = openForRead(file);
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let bytes = 0;
    for (;;) {
      const bytesRead = await readAt(fd, buf, bytes);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { checksum: h.digest(), bytes };
  } finally {
    closeRef(file, fd);
  }
}

let rangeScratch: Buffer | null = null;
let directScratch: Buffer | null = null;
const DIRECT_SCRATCH_BYTES = 4 * 1024 * 1024;

// The aligned scratch buffer, or null where none can be had (aligned-buffers.ts: the twin
// under an address-space limit, or a failed reservation, not retried for a minute).
function alignedScratch(): Buffer | null {
  directScratch ??= tryAllocAligned(DIRECT_SCRATCH_BYTES);
  return directScratch;
}

// An O_DIRECT descriptor for reading the file, or -1 where the file system refuses O_DIRECT.
function openDirect(file: FileRef): number {
  if (fs.constants.O_DIRECT === undefined) return -1;
  try {
    return openForRead(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    return -1;
  }
}

// Feed bytes [offset, offset+length) of a file to a streaming hash (verify as a file is
// written: verify-tracker.ts). A file shorter than that is an error. With direct, the bytes
// are read with O_DIRECT (from the device, not the page cache: a file written with O_DIRECT,
// partial-file.ts, is not in the cache, and reading it through the cache would fill it for
// nothing) into a page-aligned buffer (aligned-buffers.ts: Node has no aligned allocation),
// in whole 4 KiB blocks; where that cannot be (an unaligned offset, a file system without
// O_DIRECT) it reads through the cache. Returns the bytes read with O_DIRECT.
export function hashRange(h: Hasher, file: FileRef, offset: number, length: number, direct: boolean): number {
  const end = offset + length;
  let directBytes = 0;
  let pos = offset;
  let fd = direct && offset % DIRECT_IO_ALIGN === 0 && alignedScratch() ? openDirect(file) : -1;
  let isDirect = fd >= 0;
  if (fd < 0) fd = openForRead(file);
  try {
    while (pos < end) {
      let n = -1;
      let buf = directScratch!;
      if (isDirect && pos % DIRECT_IO_ALIGN === 0) {
        try {
          n = Math.min(fs.readSync(fd, buf, 0, Math.min(buf.length, Math.ceil((end - pos) / DIRECT_IO_ALIGN) * DIRECT_IO_ALIGN), pos), end - pos);
          directBytes += n;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        }
      }
      if (n < 0) {
        if (isDirect) {
          // Refused, or a short direct read ended off a block boundary: the rest through the cache.
          isDirect = false;
          const old = fd;
          fd = -1;
          closeRef(file, old);
          fd = openForRead(file);
        }
        rangeScratch = rangeScratch || Buffer.allocUnsafe(4 * 1024 * 1024);
        buf = rangeScratch;
        n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      }
      if (n === 0) throw Object.assign(new Error('file is shorter than what was written to it'), { code: 'ESHORT' });
      h.update(buf.subarray(0, n));
      pos += n;
    }
    return directBytes;
  } finally {
    if (fd >= 0) closeRef(file, fd);
  }
}

let scratch: Buffer | null = null;

/** Hash a whole file from an open descriptor (the commit's verification; after needXxh). */
export function hashFd(fd: number, algorithm: ChecksumAlgorithm): string {
  const h = syncHasher(algorithm);
  scratch = scratch || Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, scratch, 0, scratch.length, pos);
    h.update(scratch.subarray(0, n));
    pos += n;
    // A short read of a regular file is its end: a small file costs one pread, not two.
    if (n < scratch.length) break;
  }
  return h.digest();
}
