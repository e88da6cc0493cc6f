import type { FerryError } from '../../common/errors.js';
import { basename, dirname } from 'node:path';
import type { Dir } from '../../fs/index.js';
import {
  BlockSumRequestFrame, BlockSumsFrame, EndFrame, MAX_SUM_BLOCKS, ErrorFrame, FileChangedFrame, FileDoneFrame, FileErrorFrame, ManifestEndFrame, ManifestFrame, RequestFrame,
  RetireFrame, SessionFrameType, StartFrame, SumFrame, SumRequestFrame, type ByteRange, type ManifestEntry,
} from '../../protocol/data-frames.js';
import type { SessionStats } from '../../protocol/session.js';
import { batchTarBytes, packBatch, type BatchFile } from '../batch/tar-pack.js';
import { entryBytes } from '../batch/ustar.js';
import { BufferPool, sendFileChunks } from '../chunks/file-reader.js';
import { SendQueue } from '../chunks/sender.js';
import { StreamGrowth } from './stream-growth.js';
import { CheckedDirs } from './checked-dirs.js';
import { connectionLost, errnoOf, errorFromPeer, fsError, peerProtocolError, recheckAccess, skippableCode } from '../errors.js';
import { sessionEvent } from './events.js';
import type { SessionContext } from './context.js';
import { apiJoin, tarEntryName } from './paths.js';
import { walkItems, type WalkEntry } from './walk.js';
import { compileFilterRules } from './filters.js';
import { CHUNK_HEAD_BYTES, decodeSessionJson, encodeSessionJson } from '../wire/session-frames.js';
import { Notifier, Semaphore } from '../util/waiters.js';
import { blocksOf, hashBlocks } from '../markers/block-sums.js';

/**
 * The source side (send-only, STYLE §3): walk and announce within the destination's window,
 * serve its requests (chunks for big files, tar batches for small whole ones), answer checksum
 * requests, and stop at END. It never decides what to send: the destination asks.
 */

interface SourceFile {
  hostPath: string;
  apiPath: string;
  item: number;
  path: string;
  size: number;
  mtimeMs: number;
  mode: number;
}

interface Job {
  i: number;
  file: SourceFile;
  ranges: ByteRange[];
}

/** Queue bound per window entry: a destination asking again and again for the same file is broken. */
const JOBS_PER_ENTRY = 4;

export class SourceSession {
  private readonly files = new Map<number, SourceFile>();
  /** Directories the walk checked; every read acts relative to one of them. */
  private readonly dirs = new CheckedDirs();
  /** Announced entries not yet retired (files, directories, dirEnds, errors). */
  private readonly outstanding = new Set<number>();
  private credits = 0;
  private started = false;
  private readonly creditChanged = new Notifier();
  private readonly jobs: Job[] = [];
  private readonly jobsChanged = new Notifier();
  private readonly sums: number[] = [];
  /** Resume checks asked for: the file and the blocks to hash. */
  private readonly blockSums: Array<{ i: number; blocks: ByteRange[] }> = [];
  private readonly sumsChanged = new Notifier();
  private readonly sender: SendQueue;
  private readonly pool: BufferPool;
  /**
   * Batches being read at once. Each holds a pooled 4 MiB buffer from before its read starts,
   * and the fs workers read one batch each at a time: more readers than workers + 1 only hold
   * buffers (RSS) while they queue, and build emptier batches.
   */
  private readonly batchReads: Semaphore;
  private nextBatch = 0;
  private symlinks = 0;
  private announced = 0;
  private endStats: SessionStats | null = null;
  private markEnded!: () => void;
  private readonly ended = new Promise<void>((resolve) => { this.markEnded = resolve; });

  constructor(private readonly ctx: SessionContext) {
    // Spare streams (spec.maxParallelism) wait until the running ones prove loss-limited.
    this.sender = new SendQueue(ctx.data, ctx.tuning.sendQueueBytes, ctx.guard, Math.min(ctx.spec.options.parallelism, ctx.data.length));
    // Enough buffers to fill the send queue, one per stream in its socket, one per reader.
    this.pool = new BufferPool(ctx.tuning.chunkSize + CHUNK_HEAD_BYTES, Math.ceil(ctx.tuning.sendQueueBytes / ctx.tuning.chunkSize) + ctx.data.length + ctx.tuning.readConcurrency);
    this.batchReads = new Semaphore(Math.min(ctx.tuning.readConcurrency, ctx.tuning.fsWorkers + 1));
  }

  /** The session is over: let go of the directories and buffers it held. */
  release(): void {
    this.dirs.close();
    this.pool.close();
  }

  async run(): Promise<SessionStats> {
    const { guard, control, tuning } = this.ctx;
    control.startReading();
    guard.spawn(() => this.controlLoop());
    guard.spawn(() => this.announce());
    this.sender.start();
    const growth = this.ctx.growth && this.sender.active.length < this.ctx.data.length
      ? new StreamGrowth(this.sender, this.ctx.growth, tuning.streamGrowthIntervalMs)
      : null;
    growth?.start();
    for (let k = 0; k < tuning.readConcurrency; k++) guard.spawn(() => this.readLoop());
    guard.spawn(() => this.sumLoop());
    try {
      await Promise.race([this.ended, guard.failed]);
    } finally {
      growth?.stop();
    }
    return this.endStats!;
  }

  private async controlLoop(): Promise<void> {
    const { control, guard } = this.ctx;
    for (;;) {
      const frame = await control.next();
      if (!frame) {
        if (!guard.done) throw connectionLost('the destination closed the control stream mid-session');
        return;
      }
      switch (frame.type) {
        case SessionFrameType.START: {
          const { window } = decodeSessionJson(frame, StartFrame);
          if (this.started) throw peerProtocolError('second START');
          this.started = true;
          this.credits = window;
          this.creditChanged.notify();
          break;
        }
        case SessionFrameType.RETIRE:
          this.retire(decodeSessionJson(frame, RetireFrame).indexes);
          break;
        case SessionFrameType.REQUEST:
          this.request(decodeSessionJson(frame, RequestFrame));
          break;
        case SessionFrameType.SUM_REQUEST:
          for (const i of decodeSessionJson(frame, SumRequestFrame).files) {
            const file = this.files.get(i);
            if (!file) throw peerProtocolError(`SUM_REQUEST for unknown file ${i}`);
            this.mayStillRead(file);
            this.sums.push(i);
          }
          this.sumsChanged.notify();
          break;
        case SessionFrameType.BLOCK_SUM_REQUEST: {
          const req = decodeSessionJson(frame, BlockSumRequestFrame);
          const file = this.files.get(req.i);
          if (!file) throw peerProtocolError(`BLOCK_SUM_REQUEST for unknown file ${req.i}`);
          this.mayStillRead(file);
          const blocks = blocksOf(req.ranges, req.block);
          if (blocks.length > MAX_SUM_BLOCKS) throw peerProtocolError(`BLOCK_SUM_REQUEST for file ${req.i} names too many blocks`);
          if (this.blockSums.length >= this.ctx.tuning.manifestWindow) throw peerProtocolError('too many outstanding BLOCK_SUM_REQUESTs');
          this.blockSums.push({ i: req.i, blocks });
          this.sumsChanged.notify();
          break;
        }
        case SessionFrameType.END:
          this.endStats = decodeSessionJson(frame, EndFrame).stats;
          this.markEnded();
          return;
        case SessionFrameType.ERROR:
          guard.fail(errorFromPeer(decodeSessionJson(frame, ErrorFrame)), true);
          return;
        default:
          throw peerProtocolError(`unexpected frame type 0x${frame.type.toString(16)} on the source's control stream`);
      }
    }
  }

  private retire(indexes: number[]): void {
    for (const i of indexes) {
      if (!this.outstanding.delete(i)) throw peerProtocolError(`RETIRE of entry ${i}, which is not outstanding`);
      this.files.delete(i);
    }
    this.credits += indexes.length;
    this.creditChanged.notify();
  }

  /** A guest's rules, read afresh before any of a file's bytes or sums go out. */
  private mayStillRead(file: SourceFile): void {
    recheckAccess(this.ctx.resolver.checkRead?.bind(this.ctx.resolver), file.apiPath);
  }

  private request(frame: RequestFrame): void {
    for (const { i, ranges } of frame.files) {
      const file = this.files.get(i);
      if (!file) throw peerProtocolError(`REQUEST for unknown file ${i}`);
      this.mayStillRead(file);
      for (const r of ranges) {
        if (r.offset + r.length > file.size) throw peerProtocolError(`REQUEST for bytes beyond the end of file ${i}`);
      }
      this.jobs.push({ i, file, ranges });
    }
    if (this.jobs.length > this.ctx.tuning.manifestWindow * JOBS_PER_ENTRY) throw peerProtocolError('too many outstanding requests');
    this.jobsChanged.notify();
  }

  /** Walk and send MANIFEST frames, never more entries outstanding than the window. */
  private async announce(): Promise<void> {
    const { guard, tuning, spec } = this.ctx;
    const walker = walkItems({
      items: spec.items,
      resolver: this.ctx.resolver,
      dirs: this.dirs,
      skipSourceErrors: spec.options.skipSourceErrors,
      groupSize: Math.min(tuning.statBatch, tuning.manifestBatch),
      filters: compileFilterRules(spec.filterRules),
      lstatMany: (paths) => this.ctx.fs.lstatMany(paths),
      signal: guard.signal,
      onSymlink: () => { this.symlinks += 1; },
      onSkip: (item, path, err, isDirectory) => this.reportSkip(item, path, err, isDirectory),
    });
    let pending: ManifestEntry[] = [];
    let since = 0;
    for await (const group of walker) {
      for (const entry of group) {
        while (this.credits === 0 || !this.started) {
          if (pending.length > 0) pending = await this.flush(pending);
          await this.creditChanged.wait(guard.signal);
        }
        this.credits -= 1;
        if (pending.length === 0) since = Date.now();
        pending.push(this.record(entry));
        if (pending.length >= tuning.manifestBatch) pending = await this.flush(pending);
      }
      // Coalesce quick groups into bigger frames, but do not sit on entries while the walk is slow.
      if (pending.length > 0 && Date.now() - since > 20) pending = await this.flush(pending);
    }
    if (pending.length > 0) await this.flush(pending);
    this.ctx.control.write([encodeSessionJson(SessionFrameType.MANIFEST_END, ManifestEndFrame, { entries: this.announced, symlinks: this.symlinks })]);
  }

  private record(entry: WalkEntry): ManifestEntry {
    const i = this.announced++;
    this.outstanding.add(i);
    if (entry.kind === 'file') {
      const { hostPath, ...wire } = entry;
      const apiPath = apiJoin(this.ctx.spec.items[entry.item]!.sourcePath, entry.path);
      this.files.set(i, { hostPath, apiPath, item: entry.item, path: entry.path, size: entry.size, mtimeMs: entry.mtimeMs, mode: entry.mode });
      return { i, ...wire };
    }
    return { i, ...entry } as ManifestEntry;
  }

  private async flush(entries: ManifestEntry[]): Promise<ManifestEntry[]> {
    const { control, guard } = this.ctx;
    if (!control.write([encodeSessionJson(SessionFrameType.MANIFEST, ManifestFrame, { entries })])) await control.drained(guard.signal);
    return [];
  }

  private reportSkip(item: number, path: string, err: FerryError, isDirectory: boolean): void {
    const spec = this.ctx.spec.items[item]!;
    this.ctx.reporter.event(sessionEvent(skippableCode(err) ?? 'FILE_NOT_FOUND', {
      source_path: apiJoin(spec.sourcePath, path),
      destination_path: apiJoin(spec.destinationPath, path),
      is_directory: isDirectory,
      skipped: true,
      message: err.message,
    }));
  }

  private async nextJob(): Promise<Job> {
    for (;;) {
      const job = this.jobs.shift();
      if (job) return job;
      await this.jobsChanged.wait(this.ctx.guard.signal);
    }
  }

  private isSmallWhole(job: Job): boolean {
    const r = job.ranges;
    return job.file.size <= this.ctx.tuning.smallFileThreshold && r.length === 1 && r[0]!.offset === 0 && r[0]!.length === job.file.size;
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      const job = await this.nextJob();
      // Asked for before access was revoked, still not sent: the rules decide again now.
      this.mayStillRead(job.file);
      if (!this.isSmallWhole(job)) {
        await this.serveChunks(job);
        continue;
      }
      await this.batchReads.run(() => this.serveBatch(this.fillBatch(job)), this.ctx.guard.signal);
    }
  }

  /**
   * The small whole-file requests queued right behind `job`, taken greedily as long as the
   * batch's tar still fits one pooled buffer.
   */
  private fillBatch(job: Job): Job[] {
    const { tuning } = this.ctx;
    const batch = [job];
    let bytes = job.file.size;
    let tar = batchTarBytes([{ entryName: tarEntryName(job.file), size: job.file.size }]);
    while (batch.length < tuning.batchMaxFiles && this.jobs.length > 0 && this.isSmallWhole(this.jobs[0]!) && bytes + this.jobs[0]!.file.size <= tuning.batchBytes) {
      const more = entryBytes(tarEntryName(this.jobs[0]!.file), this.jobs[0]!.file.size);
      if (tar + more > tuning.chunkSize) break;
      const next = this.jobs.shift()!;
      this.mayStillRead(next.file);
      bytes += next.file.size;
      tar += more;
      batch.push(next);
    }
    return batch;
  }

  private async serveChunks(job: Job): Promise<void> {
    const { tuning, guard } = this.ctx;
    let checksum: string | null;
    try {
      // Read relative to the directory the walk checked (a link swapped in since is refused).
      checksum = await this.dirs.withFile(job.file.hostPath, (ref) => sendFileChunks({ i: job.i, hostPath: ref, apiPath: job.file.apiPath, size: job.file.size, ranges: job.ranges }, {
        queue: this.sender, pool: this.pool, chunkSize: tuning.chunkSize, checksummer: this.ctx.checksummer,
        signal: guard.signal, corruptChunk: tuning.corruptChunk,
      }));
    } catch (err) {
      if (guard.done) throw err;
      if (await this.reportIfChanged(job)) return;
      this.fileFailed(job, fsError(err, 'source', job.file.apiPath));
      return;
    }
    // A file written to while it was read would arrive as a mix of versions: say so instead of FILE_DONE.
    if (await this.reportIfChanged(job)) return;
    this.ctx.control.write([encodeSessionJson(SessionFrameType.FILE_DONE, FileDoneFrame, { i: job.i, checksum })]);
  }

  /** Whether the file's size or mtime differs from what the manifest announced; if so, FILE_CHANGED went out. */
  private async reportIfChanged(job: Job): Promise<boolean> {
    let now: { size: number; mtimeMs: number };
    try {
      const st = await this.dirs.withFile(job.file.hostPath, (ref, dir) => dir.stat(ref.name));
      if (st.kind !== 'file') return false;
      now = { size: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return false;
    }
    if (now.size === job.file.size && now.mtimeMs === job.file.mtimeMs) return false;
    this.ctx.control.write([encodeSessionJson(SessionFrameType.FILE_CHANGED, FileChangedFrame, { i: job.i, ...now })]);
    return true;
  }

  private async serveBatch(jobs: Job[]): Promise<void> {
    const { tuning } = this.ctx;
    const files: BatchFile[] = jobs.map((j) => ({
      i: j.i, hostPath: j.file.hostPath, apiPath: j.file.apiPath, size: j.file.size,
      mtimeMs: j.file.mtimeMs, mode: j.file.mode, entryName: tarEntryName(j.file),
    }));
    const packed = await packBatch(this.nextBatch++, files, {
      readInto: (list, target) => this.readIntoChecked(list, target),
      buffers: { bufferBytes: tuning.chunkSize, get: (signal) => this.pool.get(signal), put: (buf) => this.pool.put(buf) },
      frameBytes: tuning.chunkSize,
      signal: this.ctx.guard.signal,
      corruptChunk: tuning.corruptChunk,
    });
    // A failure that ends the session leaves the batch unsent: the pool's close() gives its buffer back.
    for (const { file, error } of packed.failures) this.fileFailed(jobs.find((j) => j.i === file.i)!, error);
    if (packed.unit) await this.sender.push(packed.unit);
  }

  /**
   * Batch reads relative to the directories the walk checked: each directory of the batch is
   * opened (and checked) once for the call; the files of one that was swapped away fail alone.
   */
  private async readIntoChecked(list: Array<{ path: string; size: number; at: number }>, target: Buffer): Promise<Array<{ checksum?: string; errno?: string; message?: string }>> {
    const open = new Map<string, Dir | Error>();
    try {
      for (const f of list) {
        const d = dirname(f.path);
        if (open.has(d)) continue;
        try {
          open.set(d, this.dirs.open(d));
        } catch (err) {
          open.set(d, err instanceof Error ? err : new Error(String(err)));
        }
      }
      const readable = list.filter((f) => !(open.get(dirname(f.path)) instanceof Error));
      const results = await this.ctx.fs.readInto(readable.map((f) => ({ path: { dirFd: (open.get(dirname(f.path)) as Dir).fd, name: basename(f.path) }, size: f.size, at: f.at })), target, this.ctx.checksummer.algorithm);
      let k = 0;
      return list.map((f) => {
        const failed = open.get(dirname(f.path));
        if (failed instanceof Error) return { errno: errnoOf(failed) ?? 'EIO', message: failed.message };
        return results[k++]!;
      });
    } finally {
      for (const d of open.values()) if (!(d instanceof Error)) d.close();
    }
  }

  /** A file the source could not read: skipped with an event when allowed, else fatal. */
  private fileFailed(job: Job, err: FerryError): void {
    const code = skippableCode(err);
    if (code === null || !this.ctx.spec.options.skipSourceErrors) throw err;
    this.reportSkip(job.file.item, job.file.path, err, false);
    this.ctx.control.write([encodeSessionJson(SessionFrameType.FILE_ERROR, FileErrorFrame, { i: job.i, code, message: err.message.slice(0, 1024) })]);
  }

  private async sumLoop(): Promise<void> {
    const { guard, control } = this.ctx;
    for (;;) {
      const blocks = this.blockSums.shift();
      if (blocks) {
        await this.serveBlockSums(blocks);
        continue;
      }
      const i = this.sums.shift();
      if (i === undefined) {
        await this.sumsChanged.wait(guard.signal);
        continue;
      }
      const file = this.files.get(i);
      if (!file) continue;
      let checksum: string;
      try {
        checksum = (await this.dirs.withFile(file.hostPath, (ref) => this.ctx.checksummer.file(ref, file.size, guard.signal))).checksum;
      } catch (err) {
        if (guard.done) throw err;
        this.fileFailed({ i, file, ranges: [] }, fsError(err, 'source', file.apiPath));
        continue;
      }
      control.write([encodeSessionJson(SessionFrameType.SUM, SumFrame, { i, checksum })]);
    }
  }

  /** A resuming destination's check of what it kept: sha256 of each block ('' where the file no longer has the bytes). */
  private async serveBlockSums(req: { i: number; blocks: ByteRange[] }): Promise<void> {
    const { guard, control } = this.ctx;
    const file = this.files.get(req.i);
    if (!file) return;
    let sums: string[];
    try {
      sums = await this.dirs.withFile(file.hostPath, (ref) => hashBlocks(ref, req.blocks, guard.signal));
    } catch (err) {
      if (guard.done) throw err;
      // Unreadable now: every block is rejected and the destination asks for the bytes, which reports the error.
      sums = req.blocks.map(() => '');
    }
    control.write([encodeSessionJson(SessionFrameType.BLOCK_SUMS, BlockSumsFrame, { i: req.i, sums })]);
  }
}
