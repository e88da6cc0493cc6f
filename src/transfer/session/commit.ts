import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FinishedFile } from '../../protocol/session.js';
import { Semaphore } from '../util/waiters.js';
import type { SessionContext } from './context.js';
import type { DestFile } from './dest-files.js';
import { fsError } from './errors.js';
import type { ProgressClock } from './stats.js';

export interface CommitterDeps {
  ctx: SessionContext;
  clock: ProgressClock;
  /** Verification failed: the file starts over. */
  mismatch(file: DestFile, computed: string): void;
  /** Files durable at their final paths. */
  committed(files: DestFile[]): void;
}

/**
 * Makes complete files durable, in groups: per file (several at once) verify if asked (re-read
 * what was written, compare with the source's checksum), set mode and mtime, fsync, rename
 * over the final path; then fsync each directory once for the whole group, and only then
 * report the group. Files finishing while a group commits form the next group, so the fsync
 * cost of many small files is shared (the file system merges concurrent flushes into one
 * journal commit, and each directory is flushed once per group, not per file).
 */
export class Committer {
  private readonly queue: DestFile[] = [];
  private running = false;
  private readonly gate: Semaphore;

  constructor(private readonly deps: CommitterDeps) {
    this.gate = new Semaphore(deps.ctx.tuning.commitConcurrency);
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  add(file: DestFile): void {
    this.queue.push(file);
    if (this.running) return;
    this.running = true;
    this.deps.ctx.guard.spawn(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.deps.ctx.tuning.commitBatch);
        await this.commitGroup(group);
      }
    } finally {
      this.running = false;
    }
  }

  private async commitGroup(group: DestFile[]): Promise<void> {
    const { guard } = this.deps.ctx;
    const done: DestFile[] = [];
    await Promise.all(group.map((file) => this.gate.run(async () => {
      guard.signal.throwIfAborted();
      if (await guard.track(this.commitOne(file))) done.push(file);
    }, guard.signal)));
    const dirs = this.deps.ctx.tuning.durable ? [...new Set(done.map((f) => dirname(f.finalPath)))] : [];
    await Promise.all(dirs.map((dir) => this.gate.run(() => guard.track(syncDir(dir)), guard.signal)));
    if (done.length > 0) this.deps.committed(done);
  }

  /** True once renamed into place; false when verification failed (the file was restarted). */
  private async commitOne(file: DestFile): Promise<boolean> {
    const { spec, checksummer } = this.deps.ctx;
    const { stats } = this.deps.clock;
    try {
      await file.partial.touch();
      await file.partial.close();
      if (spec.options.verifyChecksum) {
        const { checksum } = await checksummer.file(file.partial.path, file.size, this.deps.ctx.guard.signal);
        stats.bytesChecksummed += file.size;
        if (checksum !== file.sourceChecksum) {
          this.deps.mismatch(file, checksum);
          return false;
        }
      }
      // Read-only is enough to set mode and times and to fsync; it also works for modes that
      // deny the owner write access.
      const fh = await open(file.partial.path, 'r');
      try {
        await fh.chmod(file.mode & 0o777);
        if (spec.options.preserveTimestamp) await fh.utimes(Date.now() / 1000, file.mtimeMs / 1000);
        if (this.deps.ctx.tuning.durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(file.partial.path, file.finalPath);
      file.partial.committed();
      return true;
    } catch (err) {
      throw fsError(err, 'destination', file.destApi);
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function finishedFile(file: DestFile, algorithm: FinishedFile['checksumAlgorithm']): FinishedFile {
  return { sourcePath: file.sourceApi, destinationPath: file.destApi, size: file.size, checksum: file.sourceChecksum ?? '', checksumAlgorithm: algorithm };
}
