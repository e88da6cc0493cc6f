import {
  MAX_REQUEST_FILES, RequestFrame, SessionFrameType, SumRequestFrame, type ByteRange, type SkippableCode,
} from '../../protocol/data-frames.js';
import { PartialFile } from '../chunks/partial-file.js';
import { RangeSet } from '../util/range-set.js';
import { encodeSessionJson } from '../wire/session-frames.js';
import type { SessionContext } from './context.js';
import { peerProtocolError, transferError } from './errors.js';
import { sessionEvent } from './events.js';
import type { ProgressClock } from './stats.js';

/** A file the destination has decided to copy, from its first request until it is durable. */
export interface DestFile {
  readonly i: number;
  readonly item: number;
  /** Path inside the item (manifest path). */
  readonly rel: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  readonly finalPath: string;
  readonly sourceApi: string;
  readonly destApi: string;
  readonly partial: PartialFile;
  /** Requested bytes not yet received intact. */
  readonly awaiting: RangeSet;
  /** Requests not yet answered (by FILE_DONE, a batch, or FILE_ERROR). */
  replies: number;
  /** Disk writes in progress. */
  writes: number;
  /** Whole-file checksum from the source. */
  sourceChecksum: string | null;
  sumRequested: boolean;
  retries: number;
  large: boolean;
  committing: boolean;
  /** The source could not read it (skipped): drop what arrives, remove the partial. */
  abandoned: boolean;
  /** A small file's contents from a tar batch, written by the committer (null otherwise). */
  data: Buffer | null;
}

export interface FileTableDeps {
  ctx: SessionContext;
  clock: ProgressClock;
  partials: Set<string>;
  retire(i: number): void;
  commit(file: DestFile): void;
}

/**
 * The destination's files in transfer: it asks for them (big files a few at a time, small
 * ones as they come, so the source can batch them), accounts for every reply, re-asks for
 * damaged parts, and hands complete files to the committer.
 */
export class FileTable {
  private readonly active = new Map<number, DestFile>();
  /** Indexes given up on; late chunks for them are dropped, not treated as protocol errors. */
  private readonly abandoned = new Set<number>();
  private readonly largeQueue: DestFile[] = [];
  private largeInFlight = 0;
  private pending: RequestFrame['files'] = [];
  private sums: number[] = [];
  private flushScheduled = false;

  constructor(private readonly deps: FileTableDeps) {}

  get size(): number {
    return this.active.size;
  }

  get(i: number): DestFile | undefined {
    return this.active.get(i);
  }

  isAbandoned(i: number): boolean {
    return this.abandoned.has(i);
  }

  all(): IterableIterator<DestFile> {
    return this.active.values();
  }

  create(init: { i: number; item: number; rel: string; size: number; mtimeMs: number; mode: number; finalPath: string; partialPath: string; sourceApi: string; destApi: string }): DestFile {
    const file: DestFile = {
      ...init,
      partial: new PartialFile(init.partialPath, this.deps.partials, (op) => this.deps.ctx.guard.track(op)),
      awaiting: new RangeSet(),
      replies: 0, writes: 0, sourceChecksum: null, sumRequested: false, retries: 0,
      large: init.size > this.deps.ctx.tuning.smallFileThreshold, committing: false, abandoned: false, data: null,
    };
    this.active.set(file.i, file);
    file.awaiting.add(0, file.size);
    if (file.large) this.largeQueue.push(file);
    else this.ask(file, [{ offset: 0, length: file.size }]);
    this.pumpLarge();
    return file;
  }

  private pumpLarge(): void {
    while (this.largeQueue.length > 0 && this.largeInFlight < this.deps.ctx.tuning.largeFilesInFlight) {
      const file = this.largeQueue.shift()!;
      this.largeInFlight += 1;
      this.ask(file, [{ offset: 0, length: file.size }]);
    }
  }

  /** Queue a request; frames go out once per turn of the event loop, many files each. */
  private ask(file: DestFile, ranges: ByteRange[]): void {
    file.replies += 1;
    this.pending.push({ i: file.i, ranges });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  flush(): void {
    const { control, guard } = this.deps.ctx;
    if (guard.done) return;
    while (this.pending.length > 0) {
      const files = this.pending.splice(0, MAX_REQUEST_FILES);
      control.write([encodeSessionJson(SessionFrameType.REQUEST, RequestFrame, { files })]);
    }
    while (this.sums.length > 0) {
      control.write([encodeSessionJson(SessionFrameType.SUM_REQUEST, SumRequestFrame, { files: this.sums.splice(0, MAX_REQUEST_FILES) })]);
    }
  }

  requestSum(i: number): void {
    this.sums.push(i);
    this.scheduleFlush();
  }

  /**
   * Damaged data: count a fault, say so in the event list, and ask again for `ranges` (the
   * whole file after a failed verification). Too many re-sends of one file fail the session.
   */
  resend(file: DestFile, ranges: ByteRange[], details: Record<string, unknown> | null): void {
    const { clock, ctx } = this.deps;
    file.retries += 1;
    if (details) {
      clock.stats.faults += 1;
      ctx.reporter.event(sessionEvent('VERIFY_CHECKSUM', {
        source_path: file.sourceApi, destination_path: file.destApi, ...details, resent: file.retries <= ctx.tuning.maxFileRetries,
      }));
    }
    if (file.retries > ctx.tuning.maxFileRetries) {
      throw transferError('Transfer.ChecksumMismatch', `Checksum verification kept failing after ${ctx.tuning.maxFileRetries} re-sends: ${file.destApi}`, 'VERIFY_CHECKSUM');
    }
    for (const r of ranges) file.awaiting.add(r.offset, r.offset + r.length);
    this.ask(file, ranges);
  }

  /** A whole file's reply arrived (FILE_DONE, or its entry of an intact batch). */
  replied(i: number, checksum: string | null): void {
    const file = this.active.get(i);
    if (!file) {
      if (this.abandoned.has(i)) return;
      throw peerProtocolError(`FILE_DONE for file ${i}, which was not requested`);
    }
    if (file.replies === 0) throw peerProtocolError(`more replies than requests for file ${i}`);
    file.replies -= 1;
    if (checksum !== null) file.sourceChecksum = checksum;
    this.maybeComplete(file);
  }

  sum(i: number, checksum: string): boolean {
    const file = this.active.get(i);
    if (!file || !file.sumRequested) return false;
    file.sourceChecksum = checksum;
    this.maybeComplete(file);
    return true;
  }

  /** The source skipped the file (it reported the event): forget it, leave the destination as it was. */
  sourceFailed(i: number, _code: SkippableCode): boolean {
    const file = this.active.get(i);
    if (!file) return false;
    file.abandoned = true;
    this.abandoned.add(i);
    this.maybeComplete(file);
    return true;
  }

  maybeComplete(file: DestFile): void {
    if (file.committing || file.writes > 0) return;
    if (file.abandoned) {
      file.committing = true;
      this.deps.ctx.guard.spawn(async () => {
        await this.deps.ctx.guard.track(file.partial.remove());
        this.finished(file);
      });
      return;
    }
    if (file.replies > 0 || !file.awaiting.isEmpty) return;
    if (file.sourceChecksum === null) {
      // All bytes are here but no reply carried the whole-file checksum (only ranges were
      // asked for): ask the source for it.
      if (!file.sumRequested) {
        file.sumRequested = true;
        this.requestSum(file.i);
      }
      return;
    }
    file.committing = true;
    this.deps.commit(file);
  }

  /** A batch arrived damaged: one fault and one event for it, every file in it asked for again. */
  batchFailed(files: readonly DestFile[], details: Record<string, unknown>): void {
    const { clock, ctx } = this.deps;
    clock.stats.faults += 1;
    ctx.reporter.event(sessionEvent('VERIFY_CHECKSUM', {
      ...details,
      files: files.length,
      first_source_path: files[0]?.sourceApi,
      first_destination_path: files[0]?.destApi,
      resent: true,
    }));
    for (const file of files) {
      file.replies -= 1;
      this.resend(file, [{ offset: 0, length: file.size }], null);
    }
  }

  /** Verification failed at commit: start the file over. */
  restart(file: DestFile, details: Record<string, unknown>): void {
    file.committing = false;
    file.sourceChecksum = null;
    file.sumRequested = false;
    this.resend(file, [{ offset: 0, length: file.size }], details);
  }

  /** Durable (or given up): out of the table, its window slot back to the source. */
  finished(file: DestFile): void {
    this.active.delete(file.i);
    // Only requested files finish, so a large one always held an in-flight slot.
    if (file.large) {
      this.largeInFlight -= 1;
      this.pumpLarge();
    }
    this.deps.retire(file.i);
  }
}
