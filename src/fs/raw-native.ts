import { Buffer } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The FERRY_NATIVE_ABI this wrapper was written for (native/src/addon.c). */
export const NATIVE_ABI_VERSION = 11;

/** What native/src/*.c exports: arguments already checked here, errors carry errno and syscall. */
export interface NativeBinding {
  abiVersion: number;
  openat(dirFd: number, name: string, flags: number, mode: number): number;
  openRoot(path: string): number;
  statat(dirFd: number, name: string, out: Float64Array): void;
  /** false (nothing written to out) where nothing is at the name. */
  statatIfAny(dirFd: number, name: string, out: Float64Array): boolean;
  fstat(fd: number, out: Float64Array): void;
  mkdirat(dirFd: number, name: string, mode: number): void;
  unlinkat(dirFd: number, name: string, dir: boolean): void;
  renameat(oldDirFd: number, oldName: string, newDirFd: number, newName: string, noReplace: boolean): void;
  linkat(oldDirFd: number, oldName: string, newDirFd: number, newName: string): void;
  symlinkat(target: string, dirFd: number, name: string): void;
  readlinkat(dirFd: number, name: string): string;
  /** Flat: name (string, or Buffer when not UTF-8), kind code, name, kind code, ... */
  readdir(dirFd: number): Array<string | Buffer | number>;
  fchmod(fd: number, mode: number): void;
  futimens(fd: number, atimeMs: number, mtimeMs: number): void;
  syncfs(fd: number): void;
  syncfsAsync(fd: number): Promise<void>;
  close(fd: number): void;
  /** TCP_CONGESTION of a socket (native/src/sockopt.c). */
  tcpCongestion(fd: number): string;
  setTcpCongestion(fd: number, name: string): void;
  /** TCP_INFO counters into out (native/src/tcpinfo.h: TCP_INFO_FIELDS slots). */
  tcpInfo(fd: number, out: Float64Array): void;
}

/**
 * The package's directory above this file: the repo under vitest (src/fs), the package after
 * tsc (dist/fs). A package.json alone is not enough, since a nested one (dist/package.json
 * with only "type") is a common pattern; the package root is the one beside native/.
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function addonPath(root: string = packageRoot()): string {
  return join(root, 'native', 'build', 'Release', 'ferry_native.node');
}

/** Load the addon and check its ABI; throws (with the reason) when it cannot be used. */
export function loadBinding(path: string = addonPath()): NativeBinding {
  if (!existsSync(path)) throw new Error(`${path} is not built`);
  const binding = createRequire(import.meta.url)(path) as Partial<NativeBinding>;
  if (binding.abiVersion !== NATIVE_ABI_VERSION) {
    throw new Error(`${path} has ABI ${String(binding.abiVersion)}, expected ${NATIVE_ABI_VERSION} (rebuild it)`);
  }
  return binding as NativeBinding;
}

function rethrow(err: unknown, syscall: string, detail: string | undefined): never {
  const errno = (err as { errno?: unknown } | null)?.errno;
  if (typeof errno !== 'number') throw err;
  throw RawFsError.fromErrno(errno, syscall, detail);
}

/** Kind codes from native/src/readdir.c. */
const KINDS: readonly (EntryKind | 'unknown')[] = ['unknown', 'file', 'dir', 'symlink', 'other'];

/** Wrap a loaded binding as a RawFs: same argument checks as the twin, then one C call. */
export function createNativeRawFs(n: NativeBinding): RawFs {
  // One scratch array per module instance (so per thread): stat results land here instead of
  // in a new object built field by field through N-API.
  // Slots 9 and 10 hold dev and ino as exact 64-bit integers, read through a BigUint64Array view.
  const scratch = new Float64Array(11);
  const exact = new BigUint64Array(scratch.buffer);
  const toStat = (): RawStat => {
    const s = scratch;
    return {
      dev: exact[9]!, ino: exact[10]!, mode: s[2]!, nlink: s[3]!, uid: s[4]!, gid: s[5]!, size: s[6]!,
      mtimeMs: s[7]!, atimeMs: s[8]!, kind: kindOfMode(s[2]!),
    };
  };

  return {
    kind: 'native',

    openat(dirFd, name, flags, mode = 0o666) {
      checkFd(dirFd, 'openat');
      checkName(name, 'openat');
      checkInt(flags, 'openat');
      checkInt(mode, 'openat');
      try {
        return n.openat(dirFd, name, flags, mode);
      } catch (err) {
        rethrow(err, 'openat', name);
      }
    },

    openRoot(path) {
      checkPathString(path, 'open');
      if (!path.startsWith('/')) throw new RawFsError('EINVAL', 'open', path);
      try {
        return n.openRoot(path);
      } catch (err) {
        rethrow(err, 'open', path);
      }
    },

    statat(dirFd, name) {
      checkFd(dirFd, 'fstatat');
      checkName(name, 'fstatat');
      try {
        n.statat(dirFd, name, scratch);
      } catch (err) {
        rethrow(err, 'fstatat', name);
      }
      return toStat();
    },

    statatIfAny(dirFd, name) {
      checkFd(dirFd, 'fstatat');
      checkName(name, 'fstatat');
      let found: boolean;
      try {
        found = n.statatIfAny(dirFd, name, scratch);
      } catch (err) {
        rethrow(err, 'fstatat', name);
      }
      return found ? toStat() : undefined;
    },

    fstat(fd) {
      checkFd(fd, 'fstat');
      try {
        n.fstat(fd, scratch);
      } catch (err) {
        rethrow(err, 'fstat', undefined);
      }
      return toStat();
    },

    mkdirat(dirFd, name, mode) {
      checkFd(dirFd, 'mkdirat');
      checkName(name, 'mkdirat');
      checkInt(mode, 'mkdirat');
      try {
        n.mkdirat(dirFd, name, mode);
      } catch (err) {
        rethrow(err, 'mkdirat', name);
      }
    },

    unlinkat(dirFd, name, dir) {
      checkFd(dirFd, 'unlinkat');
      checkName(name, 'unlinkat');
      try {
        n.unlinkat(dirFd, name, dir === true);
      } catch (err) {
        rethrow(err, 'unlinkat', name);
      }
    },

    renameat(oldDirFd, oldName, newDirFd, newName, noReplace) {
      checkFd(oldDirFd, 'renameat');
      checkName(oldName, 'renameat');
      checkFd(newDirFd, 'renameat');
      checkName(newName, 'renameat');
      try {
        n.renameat(oldDirFd, oldName, newDirFd, newName, noReplace === true);
      } catch (err) {
        rethrow(err, 'renameat', oldName);
      }
    },

    linkat(oldDirFd, oldName, newDirFd, newName) {
      checkFd(oldDirFd, 'linkat');
      checkName(oldName, 'linkat');
      checkFd(newDirFd, 'linkat');
      checkName(newName, 'linkat');
      try {
        n.linkat(oldDirFd, oldName, newDirFd, newName);
      } catch (err) {
        rethrow(err, 'linkat', oldName);
      }
    },

    symlinkat(target, dirFd, name) {
      checkPathString(target, 'symlinkat');
      checkFd(dirFd, 'symlinkat');
      checkName(name, 'symlinkat');
      try {
        n.symlinkat(target, dirFd, name);
      } catch (err) {
        rethrow(err, 'symlinkat', name);
      }
    },

    readlinkat(dirFd, name) {
      checkFd(dirFd, 'readlinkat');
      checkName(name, 'readlinkat');
      try {
        return n.readlinkat(dirFd, name);
      } catch (err) {
        rethrow(err, 'readlinkat', name);
      }
    },

    readdir(dirFd) {
      checkFd(dirFd, 'readdir');
      let flat: Array<string | Buffer | number>;
      try {
        flat = n.readdir(dirFd);
      } catch (err) {
        rethrow(err, 'readdir', undefined);
      }
      const out: RawDirent[] = new Array<RawDirent>(flat.length / 2);
      for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i] as string | Buffer;
        const kind = KINDS[flat[i + 1] as number] ?? 'unknown';
        // Same lossy decoding as the twin's (Buffer#toString), so names compare equal.
        out[i / 2] = typeof name === 'string' ? { name, kind } : { name: name.toString('utf8'), kind, raw: name };
      }
      return out;
    },

    fchmod(fd, mode) {
      checkFd(fd, 'fchmod');
      checkInt(mode, 'fchmod');
      try {
        n.fchmod(fd, mode);
      } catch (err) {
        rethrow(err, 'fchmod', undefined);
      }
    },

    futimes(fd, atimeMs, mtimeMs) {
      checkFd(fd, 'futimens');
      checkTime(atimeMs, 'futimens');
      checkTime(mtimeMs, 'futimens');
      try {
        n.futimens(fd, atimeMs, mtimeMs);
      } catch (err) {
        rethrow(err, 'futimens', undefined);
      }
    },

    syncfs(fd) {
      checkFd(fd, 'syncfs');
      try {
        n.syncfs(fd);
      } catch (err) {
        rethrow(err, 'syncfs', undefined);
      }
    },

    async syncfsAsync(fd) {
      checkFd(fd, 'syncfs');
      try {
        await n.syncfsAsync(fd);
      } catch (err) {
        rethrow(err, 'syncfs', undefined);
      }
    },

    close(fd) {
      checkFd(fd, 'close');
      try {
        n.close(fd);
      } catch (err) {
        rethrow(err, 'close', undefined);
      }
    },
  };
}

/** The native RawFs, or a throw saying why it cannot be had. */
export function loadNativeRawFs(path?: string): RawFs {
  return createNativeRawFs(loadBinding(path));
}
