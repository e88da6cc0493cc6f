import { basename, dirname } from 'node:path';
import type { Dir } from '../../fs/index.js';
import type { FinishedFile } from '../../protocol/session.js';
import { dropView } from '../batch/held.js';
import type { CommitRequest } from '../workers/io-pool.js';
import { Notifier } from '../util/waiters.js';
import { finishVerifies } from './verify-glue.js';
import type { SessionContext } from './context.js';
import type { CheckedDirs } from './checked-dirs.js';
import type { DestFile } from './dest-files.js';
import { errnoError, fsError, recheckAccess } from '../errors.js';
import type { ProgressClock } from './stats.js';

export interface CommitterDeps {
  ctx: SessionContext;
  /** The session's placed directories: commits act relative to their checked descriptors. */
  dirs: CheckedDirs;
  clock: ProgressClock;
  /** Verification failed: the file starts over. */
  mismatch(file: DestFile, computed: string): void;
  /** Files durable at their final paths. */
  committed(files: DestFile[]): void;
}

/** Bytes of small files' contents the committer may hold before receivers wait. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

/**
 * Makes complete files durable, in groups, on an fs worker thread: per file verify if asked
 * (re-read what was written, compare with the source's checksum), set mode and mtime, fsync,
 * rename over the final path; then one fsync per directory for the whole group; only then is
 * the group reported. Small files from tar batches arrive with their bytes and are written in
 * the same pass. Files finishing while groups commit form the next group, so the fsync cost
 * of many small files is shared (one directory flush per group, and the file system merges
 * the flushes of a group into few journal commits).
 */
export class Committer {
  private readonly queue: DestFile[] = [];
  private running = 0;
  private heldBytes = 0;
  private readonly changed = new Notifier();

  constructor(private readonly deps: CommitterDeps) {}

  get idle(): boolean {
    return this.running === 0 && this.queue.length === 0;
  }

  add(file: DestFile): void {
    this.queue.push(file);
    this.heldBytes += file.data?.length ?? 0;
    this.kick();
  }

  /** Wait while the committer holds too many small files' bytes (the receiver's backpressure). */
  async room(signal: AbortSignal): Promise<void> {
    while (this.heldBytes > MAX_HELD_BYTES) await this.changed.wait(signal);
  }

  private kick(): void {
    const { tuning, guard } = this.deps.ctx;
    while (this.running < tuning.commitConcurrency && this.queue.length > 0) {
      const group = this.queue.splice(0, tuning.commitBatch);
      const release = this.releaser(group);
      this.running += 1;
      guard.spawn(async () => {
        try {
          await guard.track(this.commitGroup(group, release));
        } finally {
          this.running -= 1;
          release();
        }
        this.kick();
      });
    }
  }

  /**
   * Gives a group's small-file bytes back, once: as soon as the fs worker has its copy (so the
   * received frame buffers they are views of return to their pool while the group is still
   * being flushed, and more can arrive), or when the group ends some other way.
   */
  private releaser(group: readonly DestFile[]): () => void {
    const held = group.map((f) => f.data);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      group.forEach((f, k) => {
        const bytes = held[k];
        if (!bytes) return;
        this.heldBytes -= bytes.length;
        if (f.data === bytes) f.data = null;
        dropView(bytes);
      });
      this.changed.notify();
    };
  }

  private async commitGroup(group: DestFile[], release: () => void): Promise<void> {
    const { stats } = this.deps.clock;
    // Files verified while being written (verify-tracker.ts): a mismatch starts over here, a match skips the re-read.
    const pre = await finishVerifies(group, (f, computed) => { stats.bytesChecksummed += f.size; this.deps.mismatch(f, computed); });
    group = pre.rest;
    if (group.length === 0) return;
    // Partials written here (chunked files) are closed first; the worker opens them itself.
    // A write or flush error kept by a partial surfaces here, naming its file: it is never committed.
    await Promise.all(group.map(async (f) => {
      try {
        if (!f.data) await f.partial.touch();
        await f.partial.close();
      } catch (err) {
        throw fsError(err, 'destination', f.destApi);
      }
    }));
    // A guest's rules, read afresh: write access revoked since the files were placed stops them
    // before they land. Held from the check until the files are reported, so a rule change is
    // acknowledged only after the commits its older rules allowed (types.ts holdWrites).
    const { resolver } = this.deps.ctx;
    const unhold = resolver.holdWrites?.();
    try {
      for (const f of group) recheckAccess(resolver.checkWrite?.bind(resolver), f.destApi);
      // Each directory of the group, opened and checked once for the whole commit.
      const open = new Map<string, Dir>();
      try {
        for (const f of group) {
          const d = dirname(f.finalPath);
          if (!open.has(d)) open.set(d, this.deps.dirs.open(d));
        }
      } catch (err) {
        for (const d of open.values()) d.close();
        throw fsError(err, 'destination', group[0]!.destApi);
      }
      try {
        await this.commitIn(group, open, pre.verified, release);
      } finally {
        for (const d of open.values()) d.close();
      }
    } finally {
      unhold?.();
    }
  }

  private async commitIn(group: DestFile[], open: ReadonlyMap<string, Dir>, verified: ReadonlySet<DestFile>, release: () => void): Promise<void> {
    const { spec, tuning, fs, checksummer } = this.deps.ctx;
    const { stats } = this.deps.clock;
    const requests = group.map((f): CommitRequest => {
      const r: CommitRequest = {
        dirFd: open.get(dirname(f.finalPath))!.fd,
        partial: basename(f.partial.path),
        final: basename(f.finalPath),
        data: f.data,
        mode: f.mode,
        mtimeMs: spec.options.preserveTimestamp ? f.mtimeMs : null,
        verify: spec.options.verifyChecksum && !verified.has(f) ? checksummer.algorithm : null,
        expected: f.sourceChecksum ?? '',
      };
      if (!f.data && f.partial.identity !== null) r.identity = f.partial.identity;
      return r;
    });
    // fs.commit copies the bytes before its first await: they may be given back right away.
    const committing = fs.commit(requests, tuning.durable);
    release();
    const { results, dirError } = await committing;
    const done: DestFile[] = [];
    let failure: Error | null = null;
    results.forEach((r, k) => {
      const file = group[k]!;
      if (spec.options.verifyChecksum && (r.ok || r.mismatch !== undefined)) stats.bytesChecksummed += file.size;
      if (r.ok) {
        file.partial.committed();
        done.push(file);
      } else if (r.mismatch !== undefined) {
        this.deps.mismatch(file, r.mismatch);
      } else {
        failure ??= fsError(errnoError(r.errno ?? 'EIO', r.message), 'destination', file.destApi);
      }
    });
    if (failure) throw failure;
    if (dirError) throw fsError(errnoError(dirError.errno ?? 'EIO', dirError.message), 'destination', group[0]!.destApi);
    if (done.length > 0) this.deps.committed(done);
  }
}

export function finishedFile(file: DestFile, algorithm: FinishedFile['checksumAlgorithm']): FinishedFile {
  return { sourcePath: file.sourceApi, destinationPath: file.destApi, size: file.size, checksum: file.sourceChecksum ?? '', checksumAlgorithm: algorithm };
}
