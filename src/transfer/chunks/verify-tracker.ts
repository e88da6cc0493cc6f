import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { StreamingHash } from '../checksum/hash.js';
import type { IoPool } from '../workers/io-pool.js';
import type { SessionContext } from '../session/context.js';
import type { DestFile } from '../session/dest-files.js';
import { fsError } from '../session/errors.js';
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

const trackers = new WeakMap<DestFile, VerifyTracker>();
/** A tracker forgotten with its file (failed session, abandoned file) frees its worker state. */
const orphans = new FinalizationRegistry<StreamingHash>((hash) => hash.dispose());

export interface VerifyTrackerDeps {
  verify: boolean;
  algorithm: ChecksumAlgorithm;
  pool: IoPool;
  /** Files at least this big are verified as they are written (smaller ones at commit). */
  minBytes: number;
  /** Hash the written prefix each time it grew by this much. */
  stepBytes: number;
  /** Read back with O_DIRECT (files written with it). */
  direct?: boolean;
}

/** The file's tracker, made on its first write when the session verifies and the file is big enough; null otherwise. */
export function verifyTrackerFor(file: DestFile, deps: VerifyTrackerDeps): VerifyTracker | null {
  if (!deps.verify || file.size < deps.minBytes) return null;
  let t = trackers.get(file);
  if (!t) {
    const hash = deps.pool.createHash(deps.algorithm);
    if (!hash.updateFromFile) return null;
    t = new VerifyTracker((fn) => file.partial.withRef(fn), file.size, hash as StreamingHash & Required<Pick<StreamingHash, 'updateFromFile'>>, deps.stepBytes, deps.direct === true);
    trackers.set(file, t);
    orphans.register(t, hash, t);
  }
  return t;
}

/** The file's tracker under its session's options (verify_checksum, algorithm, sizes). */
export function sessionVerifyTracker(ctx: SessionContext, file: DestFile): VerifyTracker | null {
  const { spec, tuning, checksummer } = ctx;
  return verifyTrackerFor(file, { verify: spec.options.verifyChecksum, algorithm: checksummer.algorithm, pool: checksummer.pool, minBytes: tuning.offThreadHashBytes, stepBytes: tuning.verifyStepBytes, direct: tuning.directIo });
}

/**
 * At commit (commit.ts): finish the trackers of `group`'s files. Files whose digest differs
 * from the source's go to `mismatch` (they start over); the others are returned in
 * `verified` and need no re-read; files without a tracker are in neither and are verified
 * by the commit as before. Each tracker is used up: a file that starts over gets a new one.
 */
export async function finishVerifies<F extends DestFile>(group: readonly F[], mismatch: (file: F, computed: string) => void): Promise<{ rest: F[]; verified: Set<F> }> {
  const verified = new Set<F>();
  const rest: F[] = [];
  await Promise.all(group.map(async (file) => {
    const t = trackers.get(file);
    if (!t) {
      rest.push(file);
      return;
    }
    trackers.delete(file);
    orphans.unregister(t);
    let computed: string;
    try {
      computed = await t.finish();
    } catch (err) {
      t.dispose();
      throw fsError(err, 'destination', file.destApi);
    }
    if (computed === file.sourceChecksum) {
      verified.add(file);
      rest.push(file);
    } else {
      mismatch(file, computed);
    }
  }));
  // Keep the group's order (the commit reports files in it).
  rest.sort((a, b) => group.indexOf(a) - group.indexOf(b));
  return { rest, verified };
}

/** A VerifyTracker file named by host path (tests, and files no directory check guards). */
export function refByPath(path: string): <T>(fn: (ref: FileRef) => Promise<T>) => Promise<T> {
  return (fn) => fn(path);
}
