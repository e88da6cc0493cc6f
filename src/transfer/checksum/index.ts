import type { ChecksumAlgorithm } from '../../protocol/session.js';
import { createInlineHash, hashFileInline, type StreamingHash } from './hash.js';
import { sharedHashPool, type HashPool } from './hash-pool.js';

export { chunkChecksum, chunkChecksumParts, hashBuffer, createInlineHash, type StreamingHash } from './hash.js';
export { HashPool, sharedHashPool } from './hash-pool.js';

/**
 * The session's checksummer: one algorithm, and the rule for where hashing runs. Big files
 * go to the worker pool so the event loop stays free for sockets and TLS; small ones are
 * hashed in place, where a round trip to a worker would cost more than the hash.
 */
export class Checksummer {
  private readonly pool: HashPool;

  constructor(readonly algorithm: ChecksumAlgorithm, private readonly offThreadBytes: number, workers: number) {
    this.pool = sharedHashPool(workers);
  }

  async stream(expectedBytes: number): Promise<StreamingHash> {
    if (expectedBytes >= this.offThreadBytes) return this.pool.createHash(this.algorithm);
    return createInlineHash(this.algorithm);
  }

  async file(path: string, expectedBytes: number, signal?: AbortSignal): Promise<{ checksum: string; bytes: number }> {
    if (expectedBytes >= this.offThreadBytes) return this.pool.hashFile(path, this.algorithm);
    return hashFileInline(path, this.algorithm, signal);
  }
}
