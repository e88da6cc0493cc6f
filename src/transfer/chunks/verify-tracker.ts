import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { StreamingHash } from '../checksum/hash.js';
import type { IoPool } from '../workers/io-pool.js';
import { RangeSet } from '../util/range-set.js';
import type { FileRef } from '../../fs/index.js';

/**
 * verify_checksum for chunked files, spread over the transfer instead of after it. The
 * semantics are those of the re-read at commit: the destination reads back, from the file,
 * what it wrote and hashes it with the source's algorithm. But instead of reading the whole
 * file after its last byte (1.5 s per 2 GiB on one thread, with the rest of the machine
 * idle), a hash worker reads each contiguous prefix of the partial file once it has been
 * written (from the page cache, moments after the write) and feeds it to a streaming hash;
 * at commit only the last piece is left. Ranges are read only after their write completed,
 * and a file that starts over gets a new tracker, so what is hashed is what is on disk.
 */
export class VerifyTracker {
  private readonly written = new RangeSet();
  /** Bytes [0, hashedTo) have been given to the hash (or are being read for it). */
  private hashedTo = 0;
  private busy: Promise<void> | null = null;
  private failure: unknown = null;
  private finished = false;
  /** Bytes read back with O_DIRECT so far. */
  directBytes = 0;

  constructor(
    /** Runs a read of the file with it named relative to its open, checked directory. */
    private readonly withRef: <T>(fn: (ref: FileRef) => Promise<T>) => Promise<T>,
    private readonly size: number,
    private readonly hash: StreamingHash & Required<Pick<StreamingHash, 'updateFromFile'>>,
    /** Hash once at least this many new contiguous bytes are on disk. */
    private readonly step: number,
    /** Read back with O_DIRECT (the file was written that way: reading it through the page cache would only fill the cache). */
    private readonly direct = false,
  ) {}

  /** Bytes [offset, offset+length) are written (the write resolved). */
  wrote(offset: number, length: number): void {
    if (this.finished || length === 0) return;
    this.written.add(offset, offset + length);
    this.kick();
  }

  private prefixEnd(): number {
    const first = this.written.intervals[0];
    return first && first[0] === 0 ? first[1] : 0;
  }

  private kick(): void {
    if (this.busy || this.failure || this.finished) return;
    const end = this.prefixEnd();
    if (end - this.hashedTo < this.step) return;
    const offset = this.hashedTo;
    this.hashedTo = end;
    this.busy = this.withRef((ref) => this.hash.updateFromFile(ref, offset, end - offset, this.direct)).then(
      (direct) => { this.directBytes += direct; this.busy = null; this.kick(); },
      (err: unknown) => { this.busy = null; this.failure = err; },
    );
  }

  /**
   * After the file's last write: hash the rest of the file and give the digest. The rest is
   * read whether or not this session wrote it (bytes kept from an earlier attempt count as
   * written too); a file shorter than its size rejects, as does any read error.
   */
  async finish(): Promise<string> {
    this.finished = true;
    if (this.busy) await this.busy;
    if (this.failure) throw this.failure;
    if (this.hashedTo < this.size) {
      const from = this.hashedTo;
      this.directBytes += await this.withRef((ref) => this.hash.updateFromFile(ref, from, this.size - from, this.direct));
    }
    this.hashedTo = this.size;
    return this.hash.digest();
  }

  dispose(): void {
    this.finished = true;
    this.hash.dispose();
  }
}

/** A VerifyTracker file named by host path (tests, and files no directory check guards). */
export function refByPath(path: string): <T>(fn: (ref: FileRef) => Promise<T>) => Promise<T> {
  return (fn) => fn(path);
}
