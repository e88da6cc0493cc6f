import { closeSync, constants, lstatSync, openSync, unlinkSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { rawFs } from './load.js';
import { kindOfMode, type RawStat } from './raw.js';

/**
 * How the engine names one file to the I/O workers: relative to a directory descriptor the
 * caller holds open until the reply (the containment-safe form, what the destination uses), or
 * by host path (still used by the source, whose reads are opened O_NOFOLLOW). Descriptors are
 * shared by every thread of the process, so a worker acts on exactly the directory the main
 * thread checked.
 */
export interface AtPath {
  readonly dirFd: number;
  readonly name: string;
}

export type FileRef = string | AtPath;

/**
 * Open the regular file `ref` with `flags`; a link at its last component is never followed
 * (ELOOP). O_NONBLOCK is added so that a FIFO or device swapped in for the file cannot block
 * the thread in open(2) (it changes nothing for a regular file), and anything but a regular
 * file is refused (ESTALE) before a byte is read.
 */
export function openRef(ref: FileRef, flags: number, mode = 0o600): number {
  const all = flags | constants.O_NONBLOCK;
  const fd = typeof ref === 'string' ? openSync(ref, all | constants.O_NOFOLLOW, mode) : rawFs.openat(ref.dirFd, ref.name, all, mode);
  let kind: string;
  try {
    kind = rawFs.fstat(fd).kind;
  } catch (err) {
    rawFs.close(fd);
    throw err;
  }
  if (kind !== 'file') {
    rawFs.close(fd);
    throw Object.assign(new Error(`ESTALE: ${describeRef(ref)} is not a regular file (replaced?)`), { code: 'ESTALE' });
  }
  return fd;
}

/**
 * Close what openRef opened, the way it was opened: a path is opened with fs.openSync and a
 * directory-relative name with the raw layer's openat. In a worker thread fs.closeSync of a
 * descriptor fs did not open prints a warning per call ("closed but not opened in unmanaged
 * mode": a stack trace and a line on stderr per file), and the raw layer's close of one fs
 * opened would leave fs believing it still open.
 */
export function closeRef(ref: FileRef, fd: number): void {
  if (typeof ref === 'string') closeSync(fd);
  else rawFs.close(fd);
}

/**
 * A FileHandle on the file open at `fd` (which is then closed): reopened through its /proc
 * entry, which leads to exactly that file whatever its name leads to now. The opens that
 * decide which file it is stay descriptor-relative; FileHandle is what async reads and writes
 * use. `flags` must not create or truncate.
 */
export async function handleFromFd(fd: number, flags: number): Promise<FileHandle> {
  try {
    return await open(`/proc/self/fd/${fd}`, flags);
  } finally {
    rawFs.close(fd);
  }
}

/** openRef, as a FileHandle. */
export function openRefHandle(ref: FileRef, flags: number): Promise<FileHandle> {
  return handleFromFd(openRef(ref, flags), flags);
}

/** lstat of `ref`, or undefined when nothing is there. */
export function lstatRef(ref: FileRef): RawStat | undefined {
  if (typeof ref === 'string') {
    const big = lstatSync(ref, { bigint: true, throwIfNoEntry: false });
    const st = lstatSync(ref, { throwIfNoEntry: false });
    if (big === undefined || st === undefined) return undefined;
    return { dev: big.dev, ino: big.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs, kind: kindOfMode(st.mode) };
  }
  return rawFs.statatIfAny(ref.dirFd, ref.name);
}

/** unlink `ref` (never what a link there points to). */
export function unlinkRef(ref: FileRef): void {
  if (typeof ref === 'string') unlinkSync(ref);
  else rawFs.unlinkat(ref.dirFd, ref.name, false);
}

/** For messages: the name, never a host path of a descriptor. */
export function describeRef(ref: FileRef): string {
  return typeof ref === 'string' ? ref : ref.name;
}
