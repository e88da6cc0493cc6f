import { Buffer, isUtf8 } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import {
  RawFsError,
  checkFd,
  checkInt,
  checkName,
  checkPathString,
  checkTime,
  kindOfMode,
  type EntryKind,
  type RawDirent,
  type RawFs,
  type RawStat,
} from './raw.js';

/**
 * The TypeScript twin of the native addon. Node has no openat, but the magic link
 * /proc/self/fd/N resolves to the directory held by fd N itself (wherever it has been moved
 * since, and never to whatever now sits at its old path), so `/proc/self/fd/N/<name>` with
 * O_NOFOLLOW on the last component gives openat semantics for one name. Needs /proc mounted.
 */

const { O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;

function at(dirFd: number, name: string): string {
  return `/proc/self/fd/${dirFd}/${name}`;
}

function isLink(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/**
 * Rethrow a Node error as RawFsError. A closed dirFd makes /proc/self/fd/N vanish, which the
 * kernel reports as ENOENT, where openat(2) says EBADF: check the fds to say the same.
 */
function convert(err: unknown, syscall: string, name: string | undefined, dirFds: readonly number[] = []): never {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('E') || code.startsWith('ERR_')) throw err;
  if (code === 'ENOENT' && dirFds.some((fd) => !isOpen(fd))) throw new RawFsError('EBADF', syscall, name);
  throw new RawFsError(code, syscall, name);
}

/** Milliseconds from nanoseconds by the native side's formula (sec * 1000 + nsec / 1e6), so both report identical doubles. */
function msOf(ns: bigint): number {
  const sec = ns / 1_000_000_000n;
  const nsec = ns % 1_000_000_000n;
  return Number(sec) * 1000 + Number(nsec) / 1_000_000;
}

function toStat(s: fs.BigIntStats): RawStat {
  const mode = Number(s.mode);
  return {
    dev: s.dev,
    ino: s.ino,
    mode,
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    size: Number(s.size),
    mtimeMs: msOf(s.mtimeNs),
    atimeMs: msOf(s.atimeNs),
    kind: kindOfMode(mode),
  };
}

function direntKind(d: fs.Dirent<Buffer>): EntryKind {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other';
}

function direntOf(nameBytes: Buffer, kind: EntryKind | 'unknown'): RawDirent {
  const name = nameBytes.toString('utf8');
  return isUtf8(nameBytes) ? { name, kind } : { name, kind, raw: nameBytes };
}

/**
 * Where d_type is DT_UNKNOWN, Node's readdir lstat()s the entry itself, but it cannot join a
 * Buffer name to the path (TypeError) and fails the whole listing if an entry vanishes
 * (ENOENT). Then list names only and lstat each one here, 'unknown' for those gone.
 */
function readdirSlow(dirPath: string): RawDirent[] {
  const names = fs.readdirSync(dirPath, { encoding: 'buffer' });
  const prefix = Buffer.from(`${dirPath}/`);
  return names.map((n) => {
    try {
      return direntOf(n, kindOfMode(fs.lstatSync(Buffer.concat([prefix, n])).mode));
    } catch {
      return direntOf(n, 'unknown');
    }
  });
}

/** Node's own timestamp rule: a number of seconds must be >= 0; a Date carries whole ms, negative included. */
function toNodeTime(ms: number): number | Date {
  return ms >= 0 ? ms / 1000 : new Date(ms);
}

/**
 * renameat(..., RENAME_NOREPLACE) without the flag. A non-directory gets its new name with
 * link(2), which refuses an existing target atomically, and loses the old one with unlink(2);
 * if that unlink fails the new name is taken back so nothing is left half done. link(2) can
 * be refused where rename would work (EPERM on file systems without hard links, or by
 * fs.protected_hardlinks for someone else's file), which is then what the caller sees.
 * A directory cannot be hard-linked: check that the target is absent, then rename. A
 * target created between the check and the rename is replaced if it is an empty directory
 * (a non-empty one gives ENOTEMPTY, a non-directory ENOTDIR): that window is the race left.
 */
export function renameNoReplaceByPath(oldPath: string, newPath: string): void {
  if (!fs.lstatSync(oldPath).isDirectory()) {
    fs.linkSync(oldPath, newPath);
    try {
      fs.unlinkSync(oldPath);
    } catch (err) {
      fs.unlinkSync(newPath);
      throw err;
    }
    return;
  }
  let exists = true;
  try {
    fs.lstatSync(newPath);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    exists = false;
  }
  if (exists) throw Object.assign(new Error('EEXIST'), { code: 'EEXIST' });
  fs.renameSync(oldPath, newPath);
}

export const twinRawFs: RawFs = {
  kind: 'twin',

  openat(dirFd, name, flags, mode = 0o666) {
    checkFd(dirFd, 'openat');
    checkName(name, 'openat');
    checkInt(flags, 'openat');
    checkInt(mode, 'openat');
    try {
      return fs.openSync(at(dirFd, name), flags | O_NOFOLLOW, mode);
    } catch (err) {
      // With O_DIRECTORY Linux checks "is a directory" before "is a link" and says ENOTDIR
      // for a link; the contract is ELOOP for any link at name (the addon does the same).
      if ((err as { code?: unknown }).code === 'ENOTDIR' && (flags & O_DIRECTORY) !== 0 && isLink(at(dirFd, name))) {
        throw new RawFsError('ELOOP', 'openat', name);
      }
      convert(err, 'openat', name, [dirFd]);
    }
  },

  openRoot(path) {
    checkPathString(path, 'open');
    if (!path.startsWith('/')) throw new RawFsError('EINVAL', 'open', path);
    try {
      return fs.openSync(path, O_RDONLY | O_DIRECTORY);
    } catch (err) {
      convert(err, 'open', path);
    }
  },

  statat(dirFd, name) {
    checkFd(dirFd, 'fstatat');
    checkName(name, 'fstatat');
    try {
      return toStat(fs.lstatSync(at(dirFd, name), { bigint: true }));
    } catch (err) {
      convert(err, 'fstatat', name, [dirFd]);
    }
  },

  statatIfAny(dirFd, name) {
    checkFd(dirFd, 'fstatat');
    checkName(name, 'fstatat');
    let st: fs.BigIntStats | undefined;
    try {
      st = fs.lstatSync(at(dirFd, name), { bigint: true, throwIfNoEntry: false });
    } catch (err) {
      convert(err, 'fstatat', name, [dirFd]);
    }
    if (st !== undefined) return toStat(st);
    // Through /proc, a descriptor that is not open also looks like a missing name.
    if (!isOpen(dirFd)) throw new RawFsError('EBADF', 'fstatat', name);
    return undefined;
  },

  fstat(fd) {
    checkFd(fd, 'fstat');
    try {
      return toStat(fs.fstatSync(fd, { bigint: true }));
    } catch (err) {
      convert(err, 'fstat', undefined);
    }
  },

  mkdirat(dirFd, name, mode) {
    checkFd(dirFd, 'mkdirat');
    checkName(name, 'mkdirat');
    checkInt(mode, 'mkdirat');
    try {
      fs.mkdirSync(at(dirFd, name), { mode });
    } catch (err) {
      convert(err, 'mkdirat', name, [dirFd]);
    }
  },

  unlinkat(dirFd, name, dir) {
    checkFd(dirFd, 'unlinkat');
    checkName(name, 'unlinkat');
    try {
      if (dir === true) fs.rmdirSync(at(dirFd, name));
      else fs.unlinkSync(at(dirFd, name));
    } catch (err) {
      convert(err, 'unlinkat', name, [dirFd]);
    }
  },

  renameat(oldDirFd, oldName, newDirFd, newName, noReplace) {
    checkFd(oldDirFd, 'renameat');
    checkName(oldName, 'renameat');
    checkFd(newDirFd, 'renameat');
    checkName(newName, 'renameat');
    try {
      if (noReplace === true) renameNoReplaceByPath(at(oldDirFd, oldName), at(newDirFd, newName));
      else fs.renameSync(at(oldDirFd, oldName), at(newDirFd, newName));
    } catch (err) {
      convert(err, 'renameat', oldName, [oldDirFd, newDirFd]);
    }
  },

  linkat(oldDirFd, oldName, newDirFd, newName) {
    checkFd(oldDirFd, 'linkat');
    checkName(oldName, 'linkat');
    checkFd(newDirFd, 'linkat');
    checkName(newName, 'linkat');
    try {
      // link(2) on Linux never follows a link at the old path's last component.
      fs.linkSync(at(oldDirFd, oldName), at(newDirFd, newName));
    } catch (err) {
      convert(err, 'linkat', oldName, [oldDirFd, newDirFd]);
    }
  },

  symlinkat(target, dirFd, name) {
    checkPathString(target, 'symlinkat');
    checkFd(dirFd, 'symlinkat');
    checkName(name, 'symlinkat');
    try {
      fs.symlinkSync(target, at(dirFd, name));
    } catch (err) {
      convert(err, 'symlinkat', name, [dirFd]);
    }
  },

  readlinkat(dirFd, name) {
    checkFd(dirFd, 'readlinkat');
    checkName(name, 'readlinkat');
    try {
      return fs.readlinkSync(at(dirFd, name));
    } catch (err) {
      convert(err, 'readlinkat', name, [dirFd]);
    }
  },

  readdir(dirFd) {
    checkFd(dirFd, 'readdir');
    const dirPath = `/proc/self/fd/${dirFd}`;
    try {
      try {
        const entries = fs.readdirSync(dirPath, { withFileTypes: true, encoding: 'buffer' });
        return entries.map((d) => direntOf(d.name, direntKind(d)));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (!(err instanceof TypeError) && code !== 'ENOENT') throw err;
        return readdirSlow(dirPath);
      }
    } catch (err) {
      convert(err, 'readdir', undefined, [dirFd]);
    }
  },

  fchmod(fd, mode) {
    checkFd(fd, 'fchmod');
    checkInt(mode, 'fchmod');
    try {
      fs.fchmodSync(fd, mode);
    } catch (err) {
      convert(err, 'fchmod', undefined);
    }
  },

  futimes(fd, atimeMs, mtimeMs) {
    checkFd(fd, 'futimens');
    checkTime(atimeMs, 'futimens');
    checkTime(mtimeMs, 'futimens');
    try {
      fs.futimesSync(fd, toNodeTime(atimeMs), toNodeTime(mtimeMs));
    } catch (err) {
      convert(err, 'futimens', undefined);
    }
  },

  syncfs(fd) {
    checkFd(fd, 'syncfs');
    if (!isOpen(fd)) throw new RawFsError('EBADF', 'syncfs');
    // The child gets our fd as its fd 3 (inherited fds lose O_CLOEXEC), and `sync -f` calls
    // syncfs(2) on whatever it opens through its own /proc/self/fd/3.
    const r = spawnSync('sync', ['-f', '/proc/self/fd/3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (r.error !== undefined) {
      const code = (r.error as { code?: unknown }).code;
      throw new RawFsError(code === 'ENOENT' ? 'ENOSYS' : 'EIO', 'syncfs', 'sync -f');
    }
    if (r.status !== 0) throw new RawFsError('EIO', 'syncfs', r.stderr.toString('utf8').trim() || 'sync -f');
  },

  async syncfsAsync(fd) {
    checkFd(fd, 'syncfs');
    if (!isOpen(fd)) throw new RawFsError('EBADF', 'syncfs');
    // As syncfs, but waited for: the child has its own copy of fd once spawn() returns.
    return new Promise<void>((resolve, reject) => {
      const child = spawn('sync', ['-f', '/proc/self/fd/3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
      child.once('error', (err) => reject(new RawFsError((err as { code?: unknown }).code === 'ENOENT' ? 'ENOSYS' : 'EIO', 'syncfs', 'sync -f')));
      child.once('close', (code) => (code === 0 ? resolve() : reject(new RawFsError('EIO', 'syncfs', stderr.trim() || 'sync -f'))));
    });
  },

  close(fd) {
    checkFd(fd, 'close');
    try {
      fs.closeSync(fd);
    } catch (err) {
      convert(err, 'close', undefined);
    }
  },
};
