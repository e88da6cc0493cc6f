import {
  BlockSumsFrame, EndFrame, ErrorFrame, FileChangedFrame, FileDoneFrame, FileErrorFrame, ManifestEndFrame, ManifestFrame, MAX_RETIRE_INDEXES,
  RetireFrame, SessionFrameType, StartFrame, SumFrame,
} from '../../protocol/data-frames.js';
import type { SessionStats } from '../../protocol/session.js';
import { removePartials } from '../chunks/partial-file.js';
import { DataReceiver, type StreamState } from './receiver.js';
import { decodeSessionJson, encodeSessionJson } from '../wire/session-frames.js';
import type { FrameStream } from '../wire/frame-stream.js';
import { Committer, finishedFile } from './commit.js';
import { CheckedDirs } from './checked-dirs.js';
import type { SessionContext } from './context.js';
import { FileTable, type DestFile } from './dest-files.js';
import { ManifestProcessor } from './dest-manifest.js';
import { connectionLost, errorFromPeer, peerProtocolError, transferError } from '../errors.js';
import { ProgressClock } from './stats.js';

const DATA_TYPES = new Set<number>([SessionFrameType.CHUNK, SessionFrameType.BATCH_BEGIN, SessionFrameType.BATCH_DATA, SessionFrameType.BATCH_END]);

/**
 * The destination side (send-receive, STYLE §3), which drives the session: it grants the
 * manifest window, decides per file, requests data, checks and writes what arrives, commits
 * durable files in groups, reports progress, finished files and events, and says END once
 * every announced entry is retired.
 */
export class DestinationSession {
  private readonly clock: ProgressClock;
  private readonly files: FileTable;
  private readonly committer: Committer;
  private readonly manifest: ManifestProcessor;
  private readonly receiver: DataReceiver;
  private readonly partials = new Set<string>();
  private readonly dirs = new CheckedDirs();
  private retiredCount = 0;
  private retirePending: number[] = [];
  private retireScheduled = false;
  private ending = false;
  private markDone!: () => void;
  private readonly done = new Promise<void>((resolve) => { this.markDone = resolve; });

  constructor(private readonly ctx: SessionContext) {
    this.clock = new ProgressClock((stats) => ctx.reporter.progress(stats), ctx.tuning.progressIntervalMs);
    this.committer = new Committer({
      ctx, clock: this.clock, dirs: this.dirs,
      mismatch: (file, computed) => this.verifyFailed(file, computed),
      committed: (files) => this.committed(files),
    });
    this.files = new FileTable({ ctx, clock: this.clock, dirs: this.dirs, partials: this.partials, retire: (i) => this.retire(i), commit: (f) => this.committer.add(f) });
    this.manifest = new ManifestProcessor({ ctx, clock: this.clock, dirs: this.dirs, files: this.files, retire: (i) => this.retire(i) });
    this.receiver = new DataReceiver(ctx, this.files, this.clock, (signal) => this.committer.room(signal));
  }

  /** The session is over: let go of the directories it held. */
  release(): void {
    this.dirs.close();
  }

  async run(): Promise<SessionStats> {
    const { ctx } = this;
    const { guard, control } = ctx;
    control.startReading();
    const shared = ctx.data.length === 1 && ctx.data[0] === control;
    const sharedState = this.receiver.newState(control.name);
    if (!shared) {
      for (const stream of ctx.data) {
        stream.startReading();
        guard.spawn(() => this.dataLoop(stream));
      }
    }
    this.clock.start();
    try {
      control.write([encodeSessionJson(SessionFrameType.START, StartFrame, { window: ctx.tuning.manifestWindow })]);
      guard.spawn(() => this.controlLoop(sharedState));
      guard.spawn(() => this.manifest.run());
      await Promise.race([this.done, guard.failed]);
    } finally {
      this.clock.stop();
    }
    if (this.files.changed.length > 0) {
      // Everything else is durable; a retry of the task (files done are remembered) sends the new versions.
      const n = this.files.changed.length;
      throw transferError('Transfer.SourceChanged', `${n} source file${n === 1 ? '' : 's'} changed while being read (first: ${this.files.changed[0]}); the task retries them`, 'FILE_CHANGED');
    }
    // Every file is durable: only now may directories get their modes and mtimes.
    await this.manifest.finishDirectories();
    const stats = this.clock.snapshot();
    // END is the last frame: no RETIRE may follow it.
    this.ending = true;
    control.write([encodeSessionJson(SessionFrameType.END, EndFrame, { stats })]);
    await control.flushed();
    return stats;
  }

  /**
   * After a failure (callers let tracked operations settle first): with restart markers and
   * unless canceled, large files' partials are flushed and kept for the next attempt; every
   * other partial file is closed and removed.
   */
  async cleanup(canceled: boolean): Promise<void> {
    const { markers } = this.ctx;
    const files = [...this.files.all()];
    if (markers && !canceled) {
      // A file whose write, flush or close failed was committing only if its close failed, and
      // then it never reached the committer: its partial is as a failed write leaves it.
      await Promise.all(files.filter((f) => f.resumable && !f.abandoned && (!f.committing || f.partial.failed)).map(async (f) => {
        try {
          await f.partial.checkpoint();
          await f.partial.close();
          this.partials.delete(f.partial.path);
        } catch {
          if (f.partial.failed) {
            // Its own write, fdatasync or close failed. The ranges recorded before were made
            // durable by fdatasyncs that succeeded before the error: they stay (the next attempt
            // checks them against the source's block sums) and only the rest is sent again.
            // Nothing written after the last good flush is recorded, so nothing of it is kept.
            await f.partial.close().catch(() => undefined);
            this.partials.delete(f.partial.path);
          } else {
            // Could not flush it: it goes, and its record with it.
            markers.forget(f.partial.path);
          }
        }
      }));
      markers.flush();
    }
    await Promise.all(files.map((f) => f.partial.close().catch(() => undefined)));
    // Only large files have records; those whose partial still goes lose theirs.
    for (const f of files) if (f.resumable && this.partials.has(f.partial.path)) markers?.forget(f.partial.path);
    await removePartials(this.partials, (p) => this.dirs.withFile(p, (ref, dir) => dir.unlink(ref.name)));
  }

  private async controlLoop(sharedState: StreamState): Promise<void> {
    const { control, guard } = this.ctx;
    for (;;) {
      const frame = await control.next();
      if (!frame) {
        if (guard.done) return;
        throw connectionLost('the source closed the control stream mid-session');
      }
      switch (frame.type) {
        case SessionFrameType.MANIFEST:
          this.manifest.accept(decodeSessionJson(frame, ManifestFrame).entries);
          break;
        case SessionFrameType.MANIFEST_END:
          this.manifest.end(decodeSessionJson(frame, ManifestEndFrame));
          this.checkDone();
          break;
        case SessionFrameType.FILE_DONE: {
          const { i, checksum } = decodeSessionJson(frame, FileDoneFrame);
          this.files.replied(i, checksum);
          break;
        }
        case SessionFrameType.FILE_ERROR: {
          const { i, code } = decodeSessionJson(frame, FileErrorFrame);
          if (!this.manifest.sourceFailed(i, code) && !this.files.sourceFailed(i, code)) throw peerProtocolError(`FILE_ERROR for file ${i}, which was not asked for`);
          break;
        }
        case SessionFrameType.SUM: {
          const { i, checksum } = decodeSessionJson(frame, SumFrame);
          if (!this.manifest.sum(i, checksum) && !this.files.sum(i, checksum)) throw peerProtocolError(`SUM for file ${i}, which was not asked for`);
          break;
        }
        case SessionFrameType.BLOCK_SUMS: {
          const { i, sums } = decodeSessionJson(frame, BlockSumsFrame);
          if (!this.files.blockSumsArrived(i, sums)) throw peerProtocolError(`BLOCK_SUMS for file ${i}, which were not asked for`);
          break;
        }
        case SessionFrameType.FILE_CHANGED: {
          const { i, size, mtimeMs } = decodeSessionJson(frame, FileChangedFrame);
          if (!this.files.sourceChanged(i, { size, mtimeMs })) throw peerProtocolError(`FILE_CHANGED for file ${i}, which was not asked for`);
          break;
        }
        case SessionFrameType.ERROR:
          guard.fail(errorFromPeer(decodeSessionJson(frame, ErrorFrame)), true);
          return;
        default:
          if (this.ctx.data[0] === control && DATA_TYPES.has(frame.type)) {
            await this.receiver.handle(frame, sharedState);
            break;
          }
          throw peerProtocolError(`unexpected frame type 0x${frame.type.toString(16)} on the destination's control stream`);
      }
    }
  }

  private async dataLoop(stream: FrameStream): Promise<void> {
    const { guard } = this.ctx;
    const state = this.receiver.newState(stream.name);
    let counted = false;
    for (;;) {
      const frame = await stream.next();
      if (!frame) {
        if (guard.done) return;
        throw connectionLost(`the source closed ${stream.name} mid-session`);
      }
      if (!counted) {
        // What the task document reports as parallelism: streams that carried data, spare ones put to work included.
        counted = true;
        const stats = this.clock.stats;
        stats.streams = (stats.streams ?? 0) + 1;
      }
      await this.receiver.handle(frame, state);
    }
  }

  private retire(i: number): void {
    this.retiredCount += 1;
    this.manifest.retired();
    this.retirePending.push(i);
    if (this.retirePending.length >= MAX_RETIRE_INDEXES) this.flushRetire();
    else if (!this.retireScheduled) {
      this.retireScheduled = true;
      // Through the guard: a stream closed meanwhile fails the session, not the process.
      setImmediate(() => this.ctx.guard.spawn(async () => this.flushRetire()));
    }
    this.checkDone();
  }

  private flushRetire(): void {
    this.retireScheduled = false;
    if (this.retirePending.length === 0 || this.ctx.guard.done || this.ending) return;
    const indexes = this.retirePending;
    this.retirePending = [];
    this.ctx.control.write([encodeSessionJson(SessionFrameType.RETIRE, RetireFrame, { indexes })]);
  }

  private checkDone(): void {
    const total = this.manifest.total;
    if (total !== null && this.retiredCount === total) this.markDone();
  }

  private verifyFailed(file: DestFile, computed: string): void {
    file.partial.restart();
    this.files.restart(file, { reason: 'whole-file checksum mismatch after writing', expected: file.sourceChecksum, computed, algorithm: this.ctx.checksummer.algorithm });
  }

  private committed(files: DestFile[]): void {
    const { markers, spec } = this.ctx;
    if (markers) {
      for (const f of files) {
        if (f.resumable) markers.forget(f.partial.path);
        markers.fileDone(spec.taskId, f.finalPath, f.size, f.mtimeMs);
      }
    }
    this.clock.stats.filesTransferred += files.length;
    this.ctx.reporter.filesDone(files.map((f) => finishedFile(f, this.ctx.checksummer.algorithm)));
    for (const f of files) this.files.finished(f);
  }
}
