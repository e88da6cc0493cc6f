import { constants } from 'node:fs';
import { createHash as createNodeHash } from 'node:crypto';
import { openRefHandle, type FileRef } from '../../fs/index.js';
import { chunkCrc } from './chunk-crc.js';
import { fastHash, fastHashKind } from './fast-hash.js';
import { FastHashError } from './fast-hash-contract.js';
import { NATIVE_HASH_NAMES, type NativeHashBinding } from './fast-hash-native.js';
import { nativeExports } from '../../fs/load.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';

/**
 * One streaming interface for the three whole-file algorithms (sha256 default, md5 for
 * Globus compatibility, xxh128 fast): feed bytes in order with update(), get lowercase hex
 * from digest(). This file has the in-thread implementations; hash-pool.ts runs the same
 * algorithms on worker threads for big files. xxh128 is XXH3-128 from fast-hash.ts (the
 * addon, or its hash-wasm twin: the same digests).
 */
export interface StreamingHash {
  /**
   * Feed the next bytes. `release` runs once the hash no longer needs `data` (at once for an
   * in-thread hash; when the worker is done for a shared buffer), so the caller can reuse it.
   */
  update(data: Uint8Array, release?: () => void): void;
  /**
   * Feed bytes [offset, offset+length) of the file at `path`, read by the hash itself (worker
   * hashes only): how the destination verifies a file while it is still being written.
   * `direct`: read with O_DIRECT where possible (a file written with O_DIRECT). Resolves to the
   * bytes that were read with O_DIRECT.
   */
  updateFromFile?(path: FileRef, offset: number, length: number, direct?: boolean): Promise<number>;
  digest(): Promise<string>;
  /** Forget an unfinished hash (the session failed). */
  dispose(): void;
  /**
   * The addon's XXH3-128 state behind a native in-place xxh128: a native read may feed it on
   * its own thread (summed-read.ts) instead of update(). Absent for every other hash.
   */
  readonly nativeXxh3?: object;
}

/**
 * Whether `algorithm` is the addon's xxh128, which hashes a chunk faster than a hand-off to a
 * worker would cost (Checksummer) and lends its state to native reads (summed-read.ts).
 */
export function hashesNativelyInPlace(algorithm: ChecksumAlgorithm): boolean {
  return algorithm === 'xxh128' && fastHashKind === 'native';
}

export async function createInlineHash(algorithm: ChecksumAlgorithm): Promise<StreamingHash> {
  if (hashesNativelyInPlace(algorithm)) return nativeXxh128();
  if (algorithm === 'xxh128') {
    const h = await fastHash.xxh128();
    return { update: (d, release) => { h.update(d); release?.(); }, digest: async () => h.digest().toString('hex'), dispose: () => undefined };
  }
  const h = createNodeHash(algorithm);
  return { update: (d, release) => { h.update(d); release?.(); }, digest: async () => h.digest('hex'), dispose: () => undefined };
}

/**
 * The native xxh128 with its state handed out (nativeXxh3), so native reads can feed it on
 * their own thread. Its one user (chunks/file-reader.ts) feeds it one read at a time and asks
 * for the digest after the last one; update() and digest() refuse to run after the digest, as
 * the shared Digest does.
 */
function nativeXxh128(): StreamingHash {
  const n = nativeExports<NativeHashBinding>(NATIVE_HASH_NAMES);
  const state = n.xxh3Create();
  let finished = false;
  const live = (): void => {
    if (finished) throw new FastHashError('ERR_HASH_FINISHED', 'hash already digested');
  };
  return {
    get nativeXxh3() {
      live();
      return state;
    },
    update: (d, release) => {
      try {
        live();
        n.xxh3Update(state, d);
      } finally {
        release?.();
      }
    },
    digest: async () => { live(); finished = true; return n.xxh3Digest(state).toString('hex'); },
    dispose: () => { finished = true; },
  };
}

/** Checksum of bytes already in memory (small files). */
export async function hashBuffer(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const h = await createInlineHash(algorithm);
  h.update(data);
  return h.digest();
}

const READ_BYTES = 1024 * 1024;

/** Checksum of a file read on this thread; resolves with the hex digest and the bytes read. */
export async function hashFileInline(path: FileRef, algorithm: ChecksumAlgorithm, signal?: AbortSignal): Promise<{ checksum: string; bytes: number }> {
  const h = await createInlineHash(algorithm);
  const fh = await openRefHandle(path, constants.O_RDONLY);
  try {
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let bytes = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { checksum: await h.digest(), bytes };
  } finally {
    await fh.close();
  }
}

/** Chunk checksums: CRC-32 (IEEE), as zlib.crc32 (chunk-crc.ts says which implementation). */
export function chunkChecksum(data: Uint8Array, previous = 0): number {
  return chunkCrc.crc32(data, previous);
}

/** Payloads at least this big are checked off the main thread (chunkChecksumOff): smaller ones cost less than the hop. */
const OFF_THREAD_CRC_BYTES = 256 * 1024;

/**
 * CRC-32 of the concatenation of `parts`, for a receiver that can wait: one big part is summed
 * off this thread where the implementation can (chunk-crc.ts crc32Off), anything else here.
 */
export async function chunkChecksumOff(parts: readonly Uint8Array[]): Promise<number> {
  if (parts.length === 1 && parts[0]!.length >= OFF_THREAD_CRC_BYTES) return chunkCrc.crc32Off(parts[0]!);
  return chunkChecksumParts(parts);
}

/** CRC-32 of the concatenation of `parts`. */
export function chunkChecksumParts(parts: readonly Uint8Array[]): number {
  let crc = 0;
  for (const p of parts) crc = chunkChecksum(p, crc);
  return crc;
}
