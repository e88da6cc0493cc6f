import fs from 'node:fs';
import { faultPoint, fsync, pwriteSync } from '../../fs/faults.js';
import { rawFs } from '../../fs/load.js';
import { hashFd } from './hashing.js';
import { fileFailure, type CommitReply, type CommitResult, type CommitWireFile } from './messages.js';
import { SYNCFS_MAX_OPEN, SYNCFS_MIN_FILES, syncfsHint, syncfsWanted } from './syncfs.js';
import { syncfsCoverage } from './syncfs-trust.js';
import type { FileIdentity } from '../../fs/index.js';

// Op 'commit' of the I/O worker (io-worker.ts). Make files durable at their final paths; see
// Committer in ../session/commit.ts. Each file is created, written (small files),
// verified and given its mode and mtime here, with plain syscalls on this one thread; its fsync
// then goes to libuv's pool while the next files are prepared (in a group of many files: once
// all are prepared and the syncfs hint of syncfs.ts has written them back; where that syncfs
// stands in for the fsyncs, syncfs-trust.ts, there are none), and once that fsync is done the
// file is closed and renamed, again here. Up to WINDOW fsyncs are in flight at
// once: the file system merges concurrent flushes into shared journal commits (measured 2x
// faster than one after the other with libuv's 4 threads, 9x with 16). Creating and renaming
// stay on this thread on purpose: done from several pool threads at once they contend for the
// directory's lock, and the kernel spins on it (measured: about 1 s more system time per 20,000
// files of 4 KiB). The directories are flushed once at the end.
// Verification hashes with hashFd (syncHasher): the dispatcher awaits needXxh first.
const WINDOW = 64;
const C = fs.constants;
const CREATE_NEW = C.O_RDWR | C.O_CREAT | C.O_EXCL;
/** Attempts at an exclusive create where something keeps appearing at the partial's name. */
const CREATE_ATTEMPTS = 8;
const EMPTY = Buffer.alloc(0);
// The partial of a small file is created with its final permission bits (the bits the file
// gets anyway; it stays hidden under its partial name until renamed), which saves an fchmod per
// file unless the umask takes some of them away.
const umask = process.umask();
// Through the fs layer's data-path call, where tests inject write-back failures (faults.ts).
const fsyncAsync = (fd: number): Promise<void> => fsync(fd);

// The file-system calls of this file, each in one place. Every one acts relative to the
// directory descriptor the main thread holds for the group's files (f.dirFd): a directory
// swapped for a link after the destination placed it cannot redirect a create or a rename.
// Every descriptor here comes from rawFs.openat, so it is closed with rawFs.close: fs.closeSync
// of a descriptor fs did not open prints a warning in a worker thread, once per file (a stack
// trace and a line on stderr relayed through the main thread).

/**
 * Open a partial file: the one already written (never through a link, and only a regular
 * file with one name: a hard link planted there would carry a chmod or utimes to another
 * file), or a new one, created exclusively, for bytes that come with the request.
 */
function createPartial(f: CommitWireFile): { fd: number; chmod: boolean } {
  const perm = f.mode & 0o777;
  if (f.dataOffset === undefined) {
    // O_NONBLOCK: a FIFO swapped in at the name must not block this thread in open(2).
    const fd = rawFs.openat(f.dirFd, f.partial, C.O_RDONLY | C.O_NONBLOCK);
    const st = rawFs.fstat(fd);
    // The very file the session wrote (its identity travels with the request), still with one name.
    const ours = f.identity !== undefined && st.dev === f.identity.dev && st.ino === f.identity.ino;
    if (st.kind !== 'file' || st.nlink !== 1 || !ours) {
      rawFs.close(fd);
      throw Object.assign(new Error(`the partial file ${f.partial} was replaced before its commit`), { code: 'ESTALE' });
    }
    return { fd, chmod: true };
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return { fd: rawFs.openat(f.dirFd, f.partial, CREATE_NEW, perm), chmod: (perm & umask) !== 0 };
    } catch (err) {
      // Left by an earlier attempt (a re-send after a failed verification), or planted: the name
      // is removed (a link itself, never its target) and the create tried again.
      if (!err || (err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= CREATE_ATTEMPTS) throw err;
    }
    try {
      rawFs.unlinkat(f.dirFd, f.partial, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Put a flushed partial file in its place: rename(2) replaces whatever is at the final name (a
 * file, or a link, itself) and never writes into it. Returns the directory to flush.
 */
function renameToFinal(f: CommitWireFile, mine: FileIdentity): number {
  rawFs.renameat(f.dirFd, f.partial, f.dirFd, f.final, false);
  // rename(2) works by name: a local user who replaced the partial's name after we opened it
  // (a link, or a file of theirs) had that renamed into place instead. Check what the final name
  // is now; if it is not our file, take the impostor away again and fail this file (retried).
  const placed = rawFs.statat(f.dirFd, f.final);
  if (placed.dev !== mine.dev || placed.ino !== mine.ino) {
    try {
      rawFs.unlinkat(f.dirFd, f.final, false);
    } catch {
      // Gone or replaced once more: the failure below is what counts.
    }
    throw Object.assign(new Error(`the partial file ${f.partial} was replaced before its rename`), { code: 'ESTALE' });
  }
  return f.dirFd;
}

/** Everything up to the fsync: {fd} ready to flush, or {result} (a failure or a mismatch). */
function prepare(f: CommitWireFile, bytes: Buffer | null, now: number): { fd: number; result?: undefined } | { result: CommitResult } {
  let fd: number | undefined;
  try {
    const opened = createPartial(f);
    fd = opened.fd;
    if (f.dataOffset !== undefined) {
      const mine = bytes ? bytes.subarray(f.dataOffset, f.dataOffset + f.dataLength!) : EMPTY;
      // Through the fs layer's data-path call (faults.ts: continues short writes; tests inject write errors there).
      if (mine.length > 0) pwriteSync(fd, mine, 0, mine.length, 0);
    }
    if (f.verify) {
      const computed = hashFd(fd, f.verify);
      if (computed !== f.expected) {
        rawFs.close(fd);
        return { result: { mismatch: computed } };
      }
    }
    if (opened.chmod) fs.fchmodSync(fd, f.mode & 0o777);
    if (f.mtimeMs !== null) fs.futimesSync(fd, now, f.mtimeMs / 1000);
    return { fd };
  } catch (err) {
    if (fd !== undefined) { try { rawFs.close(fd); } catch { /* the first error is the one to report */ } }
    return { result: fileFailure(err) };
  }
}

export async function commit(files: readonly CommitWireFile[], durable: boolean, data: SharedArrayBuffer | ArrayBuffer | null): Promise<CommitReply> {
  const bytes = data ? Buffer.from(data) : null;
  const results = new Array<CommitResult>(files.length);
  const dirs = new Set<number>();
  const now = Date.now() / 1000;
  const place = (k: number, fd: number, known?: FileIdentity): void => {
    try {
      const mine = known ?? rawFs.fstat(fd);
      // A failed close fails the file before its rename (NFS reports write-back errors there);
      // the fs layer's seam first, where tests inject one (the descriptor is closed regardless).
      try {
        faultPoint('close', fd);
      } catch (err) {
        try { rawFs.close(fd); } catch { /* the injected error is the one to report */ }
        throw err;
      }
      rawFs.close(fd);
      dirs.add(renameToFinal(files[k]!, mine));
      results[k] = { ok: true };
    } catch (err) {
      results[k] = fileFailure(err);
    }
  };
  /** The file failed before its rename: report why and let its descriptor go. */
  const fail = (k: number, fd: number, err: unknown): void => {
    results[k] = fileFailure(err);
    try { rawFs.close(fd); } catch { /* the first error is the one to report */ }
  };
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const flushes: Array<Promise<void>> = [];
  const flush = async (k: number, fd: number): Promise<void> => {
    while (inFlight >= WINDOW) await new Promise<void>((resolve) => { wake = resolve; });
    inFlight += 1;
    flushes.push(fsyncAsync(fd).then(() => place(k, fd), (err: unknown) => fail(k, fd, err)).finally(() => {
      inFlight -= 1;
      if (wake) { const w = wake; wake = null; w(); }
    }));
  };
  // Files the group's syncfs made durable, without a flush of their own.
  let synced = 0;
  /**
   * The syncfs of `dev` started after this file was written (by this commit, through a
   * descriptor opened after the group's directory) and reported no error: that stands in for
   * its fsync (syncfs-trust.ts), unless the file is on another file system. The fs layer's
   * fsync seam still sees the file, so an injected flush failure fails it as before.
   */
  const settleSynced = async (k: number, fd: number, dev: bigint): Promise<void> => {
    let mine: FileIdentity;
    try {
      mine = rawFs.fstat(fd);
      if (mine.dev === dev) faultPoint('fsync', fd);
    } catch (err) {
      return fail(k, fd, err);
    }
    if (mine.dev !== dev) return flush(k, fd);
    synced += 1;
    place(k, fd, mine);
  };
  // Many files: all prepared (descriptors kept open), one write-back of the file system, then
  // the per-file fsyncs, or none where that syncfs stands in for them. Few files: each one's
  // fsync starts as soon as it is prepared.
  const hinted = durable && syncfsWanted(files.length);
  // [index, fd] pairs prepared and waiting for the hint; at most SYNCFS_MAX_OPEN files are held
  // open at once (a commit group may be larger), so a low RLIMIT_NOFILE is not exhausted.
  let ready: number[] = [];
  const flushReady = async (): Promise<void> => {
    const batch = ready;
    ready = [];
    let covered: bigint | null = null;
    if (batch.length >= 2 * SYNCFS_MIN_FILES) {
      // The directory descriptor was opened before these files were written (by the caller,
      // for this group): its syncfs reports a write-back error of any of them.
      const dirFd = files[batch[0]!]!.dirFd;
      // Only a syncfs of our own that ended well may stand in: the file system is asked after it.
      if (await syncfsHint(dirFd)) covered = syncfsCoverage(dirFd);
    }
    for (let j = 0; j < batch.length; j += 2) {
      const k = batch[j]!;
      // Only files whose bytes this commit wrote: a chunked file's were written before the
      // group's directory was opened, so a write-back error of theirs may predate what its
      // syncfs reports (and another program's syncfs may have taken it); its fsync, on a
      // descriptor of its own, still reports it.
      if (covered !== null && files[k]!.dataOffset !== undefined) await settleSynced(k, batch[j + 1]!, covered);
      else await flush(k, batch[j + 1]!);
    }
  };
  for (let k = 0; k < files.length; k++) {
    const p = prepare(files[k]!, bytes, now);
    if (p.result) {
      results[k] = p.result;
      continue;
    }
    if (!durable) place(k, p.fd);
    else if (hinted) {
      ready.push(k, p.fd);
      if (ready.length >= 2 * SYNCFS_MAX_OPEN) await flushReady();
    } else await flush(k, p.fd);
  }
  await flushReady();
  await Promise.all(flushes);
  let dirError: CommitResult | null = null;
  if (durable) {
    // The directories' own descriptors (held by the caller): flushed, not closed.
    const flushed = await Promise.allSettled([...dirs].map((fd) => fsyncAsync(fd)));
    for (const r of flushed) if (r.status === 'rejected') dirError = dirError || fileFailure(r.reason);
  }
  return { results, dirError, synced };
}
