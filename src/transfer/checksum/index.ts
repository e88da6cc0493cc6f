import type { ChecksumAlgorithm } from '../../protocol/session.js';
import { sharedIoPool, type IoPool } from '../workers/io-pool.js';
import { createInlineHash, hashFileInline, hashesNativelyInPlace, type StreamingHash } from './hash.js';
import { installAlignedMemory } from './aligned-memory.js';
import type { FileRef } from '../../fs/index.js';

export { chunkChecksum, chunkChecksumOff, chunkChecksumParts, hashBuffer, createInlineHash, type StreamingHash } from './hash.js';
export { summedReads } from './summed-read.js';

// The main thread's aligned buffers (the frame pool's) come from the addon when it loads:
// util/aligned-buffers.ts cannot load it itself (aligned-memory.ts).
installAlignedMemory();

/**
 * The session's checksummer: one algorithm, and the rule for where hashing runs. Big files
 * go to worker threads so the event loop stays free for sockets and TLS (on one core sha256
 * runs at about 1.4 GB/s and md5 at 0.5 GB/s: on the loop they would cap the session); small
 * ones are hashed in place, where a round trip to a worker would cost more than the hash.
 * Bytes already in memory (stream) are hashed in place at any size with the native xxh128:
 * at about 27 GB/s a 4 MiB chunk costs the loop 0.15-0.3 ms, less than copying it to a worker
 * (posting a chunk copies it: 0.11-0.14 s of the source's main thread per 2 GiB, profiled).
 */
export class Checksummer {
  readonly pool: IoPool;
  private readonly streamsInPlace: boolean;

  constructor(readonly algorithm: ChecksumAlgorithm, private readonly offThreadBytes: number, workers: number) {
    this.pool = sharedIoPool('hash', workers);
    this.streamsInPlace = hashesNativelyInPlace(algorithm);
  }

  async stream(expectedBytes: number): Promise<StreamingHash> {
    if (expectedBytes >= this.offThreadBytes && !this.streamsInPlace) return this.pool.createHash(this.algorithm);
    return createInlineHash(this.algorithm);
  }

  async file(path: FileRef, expectedBytes: number, signal?: AbortSignal): Promise<{ checksum: string; bytes: number }> {
    if (expectedBytes >= this.offThreadBytes) return this.pool.hashFile(path, this.algorithm);
    return hashFileInline(path, this.algorithm, signal);
  }
}
