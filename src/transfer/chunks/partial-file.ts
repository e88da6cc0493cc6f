import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fdatasync, faultPoint } from '../../fs/faults.js';
import { Dir, errnoOf, handleFromFd, rawFs, type AtPath } from '../../fs/index.js';
import { DIRECT_IO_ALIGN, isDirectIoAligned } from '../util/aligned-buffers.js';
import type { FileIdentity } from '../../fs/index.js';

export interface PartialFileOptions {
  /** Keep what an earlier attempt left in the file (resume from restart markers) instead of truncating it. */
  resume?: boolean;
  /** Flush as you go: fdatasync once this many bytes were written since the last flush (0: only on checkpoint). */
  flushBytes?: number;
  /** false: report ranges without fdatasync (non-durable mode). */
  durable?: boolean;
  /** Ranges written and, when durable, fdatasync'ed: safe to record as restart markers. */
  onDurable?: (ranges: Array<[number, number]>) => void;
  /** Write aligned pieces with O_DIRECT (see writeDirect). */
  directIo?: boolean;
  /**
   * Open the directory the partial lives in (the caller closes it): the destination's checked
   * directory (CheckedDirs). Default: the path's parent, opened by path (tests).
   */
  openDir?: () => Dir;
}

/**
 * The hidden file a destination writes before it is verified, made durable and renamed into
 * place (DESIGN.md "Never a half file"). Created private (0600); the final mode is set at
 * commit. Chunks from several streams write at their own offsets through one descriptor,
 * opened on first use (and aligned ones through a second, O_DIRECT descriptor on the same
 * file: writeDirect). Every partial's path is registered with the session, which removes
 * whatever is left of them when the session fails or is canceled.
 */
export class PartialFile {
  private handle: Promise<FileHandle> | null = null;
  /** A second descriptor with O_DIRECT, opened on the first aligned write; null once direct I/O failed here. */
  private direct: Promise<FileHandle | null> | null = null;
  private directOff: boolean;
  private directWritten = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Whether this session has created (truncated) the file already: later opens must not truncate it. */
  private created = false;
  /** Written since the last flush, not yet reported durable. */
  private unflushed: Array<[number, number]> = [];
  private unflushedBytes = 0;
  private flushing: Promise<void> | null = null;
  /** Bumped by restart(): a flush that began before it must not report ranges of the old contents. */
  private generation = 0;

  /**
   * @param track registers an operation the session must let settle before it removes
   *   partial files (an open still in flight could otherwise re-create one after cleanup).
   */
  constructor(
    readonly path: string,
    private readonly registry: Set<string>,
    private readonly track: <T>(op: Promise<T>) => Promise<T>,
    private readonly options: PartialFileOptions = {},
  ) {
    registry.add(path);
    this.directOff = options.directIo !== true || constants.O_DIRECT === undefined;
  }

  private fd(): Promise<FileHandle> {
    // A fresh file is created exclusively: a partial left by an earlier attempt is started
    // over, unless restart markers vouch for (some of) its bytes.
    const reopening = this.created;
    const expected = this.identity;
    const how = reopening ? openExisting : this.options.resume ? openKeeping : createExclusive;
    this.handle ??= this.track(this.inDir((dir) => how(dir, this.name, (id) => {
      // Opened again: it must be the very file this object created.
      if (reopening && expected && (id.dev !== expected.dev || id.ino !== expected.ino)) {
        throw Object.assign(new Error(`ESTALE: the partial file ${this.name} was replaced`), { code: 'ESTALE' });
      }
      this.identity = id;
    })));
    this.created = true;
    return this.handle;
  }

  /** Device and inode of the file this object writes (set once it is open): the commit checks them. */
  identity: FileIdentity | null = null;

  /** The partial's name in its directory. */
  get name(): string {
    return basename(this.path);
  }

  private async inDir<T>(fn: (dir: Dir) => Promise<T> | T): Promise<T> {
    const dir = this.options.openDir ? this.options.openDir() : Dir.adopt(rawFs.openRoot(dirname(this.path)));
    try {
      return await fn(dir);
    } finally {
      dir.close();
    }
  }

  /** Run `fn` with the partial named relative to its (open, checked) directory: reads by the I/O workers. */
  withRef<T>(fn: (ref: AtPath) => Promise<T>): Promise<T> {
    return this.inDir((dir) => fn({ dirFd: dir.fd, name: this.name }));
  }

  /** The first write or flush error: the file is failed and can no longer be committed. */
  private failure: unknown = null;

  private fail(err: unknown): void {
    this.failure ??= err;
  }

  /**
   * A write, fdatasync or close on this file's descriptor reported an error (it can no longer
   * be committed). Not an open that found the partial replaced: that file is not ours to keep.
   */
  get failed(): boolean {
    const syscall = (this.failure as { syscall?: unknown } | null)?.syscall;
    return this.failure !== null && (syscall === 'write' || syscall === 'fdatasync' || syscall === 'close');
  }

  /** Throws the file's first write or flush error, if any (commit must never see a file that lost one). */
  assertHealthy(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Write `parts` back to back at `offset` with writev (no joining copy). Writes to one file
   * run one at a time: concurrent buffered writes to one inode only contend for its lock
   * (measured: several times the CPU for the same bytes), while other files and streams keep
   * the pipeline busy.
   */
  writev(parts: readonly Buffer[], offset: number): Promise<void> {
    const run = this.tail.then(() => this.writevNow(parts, offset));
    this.tail = run.catch((err: unknown) => this.fail(err));
    return run.then(() => {
      let length = 0;
      for (const p of parts) length += p.length;
      this.written(offset, offset + length);
    });
  }

  private written(start: number, end: number): void {
    if (end <= start) return;
    const last = this.unflushed.at(-1);
    if (last && last[1] === start) last[1] = end;
    else this.unflushed.push([start, end]);
    this.unflushedBytes += end - start;
    const every = this.options.flushBytes ?? 0;
    // A failure here is kept (fail) and thrown by checkpoint and close: never lost.
    if (every > 0 && this.unflushedBytes >= every && !this.flushing) void this.flush().catch((err: unknown) => this.fail(err));
  }

  /**
   * Make what was written so far durable (fdatasync) and report it. Writes continue meanwhile:
   * only ranges whose write had finished before the sync began are reported.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.unflushed.length === 0 || !this.handle) return Promise.resolve();
    const ranges = this.unflushed;
    const generation = this.generation;
    const handle = this.handle;
    this.unflushed = [];
    this.unflushedBytes = 0;
    const run = (async () => {
      // Linux reports a write-back error to one fdatasync only: after a failure the file's
      // later syncs succeed though its pages are lost, so the failure marks the file failed
      // and its ranges are never reported durable.
      this.assertHealthy();
      try {
        if (this.options.durable !== false) await fdatasync((await handle).fd);
      } catch (err) {
        this.fail(err);
        throw err;
      }
      if (generation === this.generation) this.options.onDurable?.(ranges);
    })();
    this.flushing = this.track(run).finally(() => { this.flushing = null; });
    return this.flushing;
  }

  /** Let queued writes finish, then flush: what this attempt wrote is kept for the next one. */
  async checkpoint(): Promise<void> {
    await this.tail;
    this.assertHealthy();
    await this.flush();
  }

  private async writevNow(parts: readonly Buffer[], offset: number): Promise<void> {
    const fh = await this.fd();
    // The fs layer's seam (tests inject write errors here; faults.ts): this path writes through
    // a FileHandle, not through faults.pwritev.
    faultPoint('write', fh.fd);
    let list = parts.filter((p) => p.length > 0);
    let position = offset;
    if (!this.directOff && list.length === 1 && offset % DIRECT_IO_ALIGN === 0 && isDirectIoAligned(list[0]!)) {
      const whole = list[0]!;
      const body = whole.length - (whole.length % DIRECT_IO_ALIGN);
      if (body > 0 && (await this.writeDirect(whole.subarray(0, body), offset))) {
        if (body === whole.length) return;
        list = [whole.subarray(body)];
        position = offset + body;
      }
    }
    await writevAll(fh, list, position);
  }

  /**
   * Write block-aligned bytes with O_DIRECT: they go from our buffer to the device without
   * passing through the page cache. A file that is fsync'ed anyway gains nothing from the cache,
   * and filling it costs a page allocation (and, on virtual machines whose host backs guest
   * memory lazily, a host fault) per 4 KiB: measured on the benchmark machine, 2 GiB made
   * durable in 6.8 s and 5.8 CPU-s through the cache, 1.8 s and 0.4 CPU-s direct. Only whole
   * blocks at aligned offsets from aligned buffers go this way (a file's unaligned tail is
   * written through the cache by the caller); a file system that refuses O_DIRECT (EINVAL) turns
   * it off for this file, which then carries on through the cache. Returns whether it wrote.
   */
  private async writeDirect(data: Buffer, offset: number): Promise<boolean> {
    // Opened through the first descriptor's /proc entry, not the path: both are then surely the
    // same file, even if the path was replaced meanwhile. No /proc: no direct I/O.
    this.direct ??= this.fd().then((h) => this.track(open(`/proc/self/fd/${h.fd}`, constants.O_WRONLY | constants.O_DIRECT))).catch(() => null);
    const fh = await this.direct;
    if (!fh) {
      this.directOff = true;
      return false;
    }
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done);
        if (bytesWritten === 0 || bytesWritten % DIRECT_IO_ALIGN !== 0) throw Object.assign(new Error('short direct write'), { code: 'EINVAL' });
        done += bytesWritten;
      }
      this.directWritten += done;
      directIoTotals.bytesWritten += done;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      // What was written stays valid; the caller rewrites the whole piece through the cache.
      this.directOff = true;
      return false;
    }
  }

  /** Bytes this object wrote with O_DIRECT (the rest went through the page cache). */
  get directBytes(): number {
    return this.directWritten;
  }

  /** Make sure the file exists (a zero-byte file receives no chunks). */
  async touch(): Promise<void> {
    if (!this.created) await this.fd();
  }

  async close(): Promise<void> {
    await this.flushing?.catch((err: unknown) => this.fail(err));
    await this.tail;
    const h = this.handle;
    const d = this.direct;
    this.handle = null;
    this.direct = null;
    // Both are closed even if one close fails (NFS can report EIO at close); the first failure is thrown.
    const closed = await Promise.allSettled([d?.then((fh) => fh?.close()), h?.then(closeWritten)]);
    for (const c of closed) if (c.status === 'rejected') this.fail(c.reason);
    this.assertHealthy();
  }

  /** Start over: every later write lands in a freshly truncated file (set synchronously, so no write can slip in between). */
  restart(): void {
    this.generation += 1;
    // A fresh file: an earlier write error no longer concerns it.
    this.failure = null;
    this.unflushed = [];
    this.unflushedBytes = 0;
    const old = this.handle;
    const oldDirect = this.direct;
    const flushing = this.flushing ?? Promise.resolve();
    // The direct descriptor is opened again, on whatever file the new handle created.
    this.direct = null;
    this.handle = this.track(flushing.catch(() => undefined)
      .then(() => Promise.allSettled([old?.then((h) => h.close()), oldDirect?.then((h) => h?.close())]))
      .then(() => this.inDir((dir) => createExclusive(dir, this.name, (id) => { this.identity = id; }))));
    this.created = true;
  }

  /** The file was renamed into place: nothing to clean up any more. */
  committed(): void {
    this.registry.delete(this.path);
  }

  async remove(): Promise<void> {
    await this.close().catch(() => undefined);
    await this.inDir((dir) => dir.unlink(this.name)).catch(() => undefined);
    this.registry.delete(this.path);
  }
}

/**
 * Close the descriptor that wrote the partial. Its error (NFS reports write-back failures at
 * close) fails the file like a write's. The fs layer's seam comes first (faults.ts, where tests
 * inject a close failure); an injected failure still closes the descriptor, as Linux does.
 */
async function closeWritten(fh: FileHandle): Promise<void> {
  try {
    faultPoint('close', fh.fd);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  await fh.close();
}

/** Bytes written with O_DIRECT by every partial file of this process (a figure for tests and diagnostics). */
export const directIoTotals = { bytesWritten: 0 };

/** Attempts to create a partial where something keeps appearing at its name. */
const CREATE_ATTEMPTS = 8;

type OnIdentity = (identity: FileIdentity) => void;

/** A FileHandle on the checked descriptor `fd` (closed once the handle is open); reports its identity. */
function handleOf(fd: number, onIdentity: OnIdentity): Promise<FileHandle> {
  try {
    const st = rawFs.fstat(fd);
    onIdentity({ dev: st.dev, ino: st.ino });
  } catch (err) {
    rawFs.close(fd);
    throw err;
  }
  return handleFromFd(fd, constants.O_RDWR);
}

/**
 * Create the partial exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) relative to its directory:
 * never through a link, never into a file someone else made. Whatever is at the name (a stale
 * partial, or a link or hard link planted there) is unlinked, never followed, and the create
 * retried.
 */
async function createExclusive(dir: Dir, name: string, onIdentity: OnIdentity): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await handleOf(dir.openFile(name, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600), onIdentity);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST' || attempt >= CREATE_ATTEMPTS) throw err;
    }
    try {
      dir.unlink(name);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }
}

/**
 * A regular file with one name, owned by this process's user: what a partial must be before
 * anything is written into it (a file someone else put at the name is not adopted).
 */
function isOwnRegularFile(fd: number): boolean {
  const st = rawFs.fstat(fd);
  return st.kind === 'file' && st.nlink === 1 && st.uid === process.geteuid?.();
}

/**
 * The partial this session created, opened again (after a restart of its writes): not through
 * a link, and only if it is still a regular file with one name.
 */
async function openExisting(dir: Dir, name: string, onIdentity: OnIdentity): Promise<FileHandle> {
  const fd = dir.openFile(name, constants.O_RDWR | constants.O_NONBLOCK);
  if (!isOwnRegularFile(fd)) {
    rawFs.close(fd);
    throw Object.assign(new Error(`EPERM: the partial file ${name} is no longer a regular file of its own`), { code: 'EPERM' });
  }
  return handleOf(fd, onIdentity);
}

/**
 * Open a partial kept from an earlier attempt without truncating it: not through a link, and
 * only if it is a regular file with one name (a hard link planted at the name would carry our
 * writes into another file). Anything else there is replaced by a fresh exclusive create; the
 * kept ranges are then checked against the source's block sums like any others and re-sent.
 */
async function openKeeping(dir: Dir, name: string, onIdentity: OnIdentity): Promise<FileHandle> {
  let fd: number;
  try {
    fd = dir.openFile(name, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'ENOENT' && code !== 'ELOOP') throw err;
    return createExclusive(dir, name, onIdentity);
  }
  if (isOwnRegularFile(fd)) return handleOf(fd, onIdentity);
  rawFs.close(fd);
  return createExclusive(dir, name, onIdentity);
}

/**
 * Remove every registered partial file (after a failure, once writes have settled), each with
 * `unlinkOne` (the destination's: relative to its checked directory).
 */
export async function removePartials(registry: Set<string>, unlinkOne: (path: string) => Promise<void> | void = (p) => unlink(p)): Promise<void> {
  await Promise.all([...registry].map(async (p) => {
    try {
      await unlinkOne(p);
    } catch {
      // Already gone, or its directory was swapped away: nothing of ours to remove there.
    }
  }));
  registry.clear();
}

/** writev `parts` back to back at `offset` until every byte is written. */
async function writevAll(fh: FileHandle, parts: readonly Buffer[], offset: number): Promise<void> {
  let list = parts;
  let position = offset;
  while (list.length > 0) {
    // At most IOV_MAX buffers per call; a short write continues where it stopped.
    const batch = list.slice(0, 1024);
    let { bytesWritten } = await fh.writev(batch, position);
    position += bytesWritten;
    let k = 0;
    while (k < batch.length && bytesWritten >= batch[k]!.length) bytesWritten -= batch[k++]!.length;
    const rest = k < batch.length ? [batch[k]!.subarray(bytesWritten), ...batch.slice(k + 1)] : [];
    list = [...rest, ...list.slice(batch.length)];
  }
}
