import { Buffer } from 'node:buffer';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/**
 * The raw descriptor-relative file layer (DESIGN.md "Containment holds against the host too").
 *
 * Two implementations share this interface: the C addon in native/ (raw-native.ts) and a
 * TypeScript twin (raw-twin.ts) that reaches the same kernel calls through
 * `/proc/self/fd/N/<name>` paths. Both validate arguments the same way before any system
 * call and throw the same RawFsError codes for the same situation; the conformance and
 * differential suites in test/unit/fs hold them to that.
 */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

/**
 * Device and inode, exact: 64-bit values (Lustre's inode numbers lie near 2^57) do not fit a
 * double, and two neighbouring ones would compare equal as numbers.
 */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export interface RawStat {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  atimeMs: number;
  kind: EntryKind;
}

export interface RawDirent {
  name: string;
  /**
   * The entry's type from d_type. Where the file system gives no type (DT_UNKNOWN) both
   * implementations look the entry up without following it (Node's readdir does that on its
   * own, so the native side does the same to stay identical); 'unknown' is left only when
   * that lookup fails, e.g. the entry vanished meanwhile. Callers treat 'unknown' as "call
   * statat".
   */
  kind: EntryKind | 'unknown';
  /** Present only when the name's bytes are not valid UTF-8; `name` is then a lossy decoding. */
  raw?: Buffer;
}

/**
 * Synchronous descriptor-relative calls. Flags are node:fs constants (fs.constants.O_*),
 * which are Linux's values. Every `name` is one path component (see checkName); every fd
 * is a non-negative integer (else EBADF). The `syscall` of an error is fixed per method:
 * openat 'openat', openRoot 'open', statat 'fstatat', fstat 'fstat', mkdirat 'mkdirat',
 * unlinkat 'unlinkat', renameat 'renameat', linkat 'linkat', symlinkat 'symlinkat',
 * readlinkat 'readlinkat', readdir 'readdir', fchmod 'fchmod', futimes 'futimens',
 * syncfs 'syncfs', close 'close'.
 */
export interface RawFs {
  readonly kind: 'native' | 'twin';
  /**
   * openat(dirFd, name, flags|O_CLOEXEC|O_NOFOLLOW, mode): a link at `name` gives ELOOP, with
   * O_DIRECTORY too (where Linux itself says ENOTDIR; both implementations re-check and say
   * ELOOP). Returns the fd. Opening a FIFO without O_NONBLOCK blocks until a writer comes.
   */
  openat(dirFd: number, name: string, flags: number, mode?: number): number;
  /** open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC) following links: only for a configured root (the admin's path may be a link). `path` must be absolute. */
  openRoot(path: string): number;
  /** fstatat(dirFd, name, AT_SYMLINK_NOFOLLOW). */
  statat(dirFd: number, name: string): RawStat;
  /**
   * statat, or undefined where nothing is at `name` (ENOENT) without building an exception: a
   * destination looks up the name of every file it is about to create. Other errors as statat.
   */
  statatIfAny(dirFd: number, name: string): RawStat | undefined;
  fstat(fd: number): RawStat;
  mkdirat(dirFd: number, name: string, mode: number): void;
  /** unlinkat; dir true = AT_REMOVEDIR. */
  unlinkat(dirFd: number, name: string, dir: boolean): void;
  /**
   * renameat2; noReplace = RENAME_NOREPLACE (EEXIST if newName exists, both names left as
   * they were). Where the kernel or file system lacks RENAME_NOREPLACE the fallback is
   * link+unlink for a non-directory and check-then-rename for a directory (racy; see the
   * implementations).
   */
  renameat(oldDirFd: number, oldName: string, newDirFd: number, newName: string, noReplace: boolean): void;
  /** linkat(..., 0): never follows a link at oldName (the link itself gets a second name). */
  linkat(oldDirFd: number, oldName: string, newDirFd: number, newName: string): void;
  /** `target` is stored as given (any string without NUL). */
  symlinkat(target: string, dirFd: number, name: string): void;
  readlinkat(dirFd: number, name: string): string;
  /** Every entry but . and .., in directory order. Reads through a fresh open of the directory, so dirFd's own offset is never moved. */
  readdir(dirFd: number): RawDirent[];
  fchmod(fd: number, mode: number): void;
  /** futimens with ms as float; both implementations keep microseconds (libuv's rule). A negative time is truncated to whole ms. */
  futimes(fd: number, atimeMs: number, mtimeMs: number): void;
  /** syncfs(fd): flush the whole file system holding fd. */
  syncfs(fd: number): void;
  /**
   * syncfs(fd) off the calling thread (it can take as long as the file system's dirty data).
   * The implementation holds its own reference to the file system from the moment it returns,
   * so the caller may close fd at once. Native: libuv's thread pool on a dup of fd; twin: a
   * `sync -f` child given fd.
   */
  syncfsAsync(fd: number): Promise<void>;
  close(fd: number): void;
}

const errnoNumbers = osConstants.errno as Readonly<Record<string, number>>;
const systemErrors = getSystemErrorMap();

/** A Node-style errno error: `code` 'ENOENT', `errno` negative as Node uses, `syscall` per RawFs method. */
export class RawFsError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(code: string, syscall: string, detail?: string) {
    const errno = -(errnoNumbers[code] ?? 0);
    const text = systemErrors.get(errno)?.[1] ?? 'unknown error';
    super(`${code}: ${text}, ${syscall}${detail === undefined ? '' : ` '${detail}'`}`);
    this.name = 'RawFsError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }

  /** From a positive or negative errno number (what the addon reports). */
  static fromErrno(errno: number, syscall: string, detail?: string): RawFsError {
    const n = -Math.abs(errno);
    const name = systemErrors.get(n)?.[0] ?? 'EIO';
    return new RawFsError(name, syscall, detail);
  }
}

/** The longest single component Linux accepts (NAME_MAX). */
export const NAME_MAX = 255;

/**
 * A name must be one path component: non-empty, no '/', no NUL, not '.' or '..', at most
 * NAME_MAX bytes of UTF-8. Both implementations call this before any system call, so a
 * violation is EINVAL whichever is loaded.
 */
export function checkName(name: unknown, syscall: string): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name === '.' ||
    name === '..' ||
    name.includes('/') ||
    name.includes('\0') ||
    Buffer.byteLength(name, 'utf8') > NAME_MAX
  ) {
    throw new RawFsError('EINVAL', syscall, typeof name === 'string' ? name : undefined);
  }
}

/** A descriptor is a non-negative int32; anything else (AT_FDCWD included) is EBADF, never "the cwd". */
export function checkFd(fd: unknown, syscall: string): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RawFsError('EBADF', syscall);
  }
}

/** Flags and modes are 32-bit unsigned-compatible integers. */
export function checkInt(value: unknown, syscall: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RawFsError('EINVAL', syscall);
  }
}

/** A string the kernel will see whole: no NUL byte. */
export function checkPathString(value: unknown, syscall: string): asserts value is string {
  if (typeof value !== 'string' || value.includes('\0')) throw new RawFsError('EINVAL', syscall);
}

export function checkTime(value: unknown, syscall: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RawFsError('EINVAL', syscall);
}

/** The kind encoded in st_mode's S_IFMT bits. */
export function kindOfMode(mode: number): EntryKind {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}
