import { constants, readlinkSync } from 'node:fs';
import { rawFs } from './load.js';
import type { RawDirent, RawFs, RawStat } from './raw.js';
import type { FileIdentity } from './raw.js';

/**
 * An open directory of user data, reached without following any link (DESIGN.md "Containment
 * holds against the host too"). Every call acts relative to the held descriptor, so a local
 * user who renames or swaps a directory for a symlink after it was opened cannot redirect
 * what the agent does: it keeps working in the directory it checked. Names are single
 * components (RawFs refuses anything else), and the last component is never followed either:
 * openat always adds O_NOFOLLOW.
 *
 * A Dir owns its descriptor: whoever opened it closes it, once, after every call that uses it
 * (in this thread or in a worker that was handed `fd`) has finished, since a closed number is
 * soon reused for another file.
 */
export class Dir {
  private closed = false;

  constructor(
    readonly fd: number,
    readonly dev: bigint,
    readonly ino: bigint,
    readonly raw: RawFs = rawFs,
  ) {}

  /** Wrap `fd` (a directory just opened) with the identity fstat reports. */
  static adopt(fd: number, raw: RawFs = rawFs): Dir {
    let st: RawStat;
    try {
      st = raw.fstat(fd);
    } catch (err) {
      raw.close(fd);
      throw err;
    }
    return new Dir(fd, st.dev, st.ino, raw);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Same directory as `other` (device and inode). */
  sameAs(other: FileIdentity): boolean {
    return this.dev === other.dev && this.ino === other.ino;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw.close(this.fd);
  }

  /** lstat of `name` in this directory (a link is reported as a link). */
  stat(name: string): RawStat {
    return this.raw.statat(this.fd, name);
  }

  /** stat of `name`, or null when nothing is there. */
  statOrNull(name: string): RawStat | null {
    return this.raw.statatIfAny(this.fd, name) ?? null;
  }

  /** Open the sub-directory `name`; a link there gives ELOOP, a non-directory ENOTDIR. */
  openDir(name: string): Dir {
    try {
      return Dir.adopt(this.raw.openat(this.fd, name, constants.O_RDONLY | constants.O_DIRECTORY), this.raw);
    } catch (err) {
      // Linux answers O_DIRECTORY|O_NOFOLLOW on a link with ENOTDIR; callers tell links apart by ELOOP.
      if (errnoOf(err) === 'ENOTDIR' && this.statOrNull(name)?.kind === 'symlink') throw fsErrno('ELOOP', 'openat', `${name} is a symbolic link`);
      throw err;
    }
  }

  /**
   * Open the sub-directory `name` and check that it is still the one a decision was made on
   * (`expected`'s device and inode): a directory swapped meanwhile gives ESTALE.
   */
  openDirChecked(name: string, expected: FileIdentity): Dir {
    const dir = this.openDir(name);
    if (!dir.sameAs(expected)) {
      dir.close();
      throw fsErrno('ESTALE', 'openat', `${name} was replaced while the agent worked on it`);
    }
    return dir;
  }

  /** Open a file relative to this directory: returns a descriptor the caller closes. */
  openFile(name: string, flags: number, mode = 0o600): number {
    return this.raw.openat(this.fd, name, flags, mode);
  }

  mkdir(name: string, mode = 0o777): void {
    this.raw.mkdirat(this.fd, name, mode);
  }

  unlink(name: string): void {
    this.raw.unlinkat(this.fd, name, false);
  }

  rmdir(name: string): void {
    this.raw.unlinkat(this.fd, name, true);
  }

  /** Rename `name` to `newName` in `to` (this directory by default); noReplace fails with EEXIST instead of replacing. */
  rename(name: string, to: Dir, newName: string, noReplace: boolean): void {
    this.raw.renameat(this.fd, name, to.fd, newName, noReplace);
  }

  link(name: string, to: Dir, newName: string): void {
    this.raw.linkat(this.fd, name, to.fd, newName);
  }

  readlink(name: string): string {
    return this.raw.readlinkat(this.fd, name);
  }

  /** Every entry but . and .. */
  list(): RawDirent[] {
    return this.raw.readdir(this.fd);
  }

  /** Where this directory really is now: the path the kernel reports for its descriptor. */
  realPath(): string {
    return readlinkSync(`/proc/self/fd/${this.fd}`);
  }

  /** This directory's own stat. */
  fstat(): RawStat {
    return this.raw.fstat(this.fd);
  }
}

export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A Node-style errno error raised by this layer itself (not by a system call). */
export function fsErrno(code: string, syscall: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code, syscall });
}
