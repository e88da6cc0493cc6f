import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileRef, RawDirent } from '../../fs/index.js';
import type { FerryError } from '../../common/errors.js';
import type { ManifestDir, ManifestDirEnd, ManifestError, ManifestFile, SkippableCode } from '../../protocol/data-frames.js';
import type { TransferItem } from '../../protocol/session.js';
import type { StatResult } from '../workers/io-pool.js';
import type { CheckedDirs } from './checked-dirs.js';
import { errnoError, errnoOf, fsError, skippableCode, transferError } from '../errors.js';
import type { FilterMatcher } from './filters.js';
import { hostJoin, joinRel } from './paths.js';
import type { PathResolver } from './types.js';

/**
 * The source's walk over its items, producing manifest entries (without their index) in the
 * order the destination checks: an item's root entry; for a directory, all its children, then
 * its dirEnd, then each child directory the same way (depth first, a stack of pending
 * directories on both sides). Memory: the stack, plus one directory's subdirectory names.
 * Symlinks met while walking are counted, never followed; special files are left out.
 * Filter rules apply to the entries found below an item (not to the item itself): an excluded
 * file is not announced, an excluded directory is neither announced nor entered.
 */

type NoIndex<T> = Omit<T, 'i'>;
export type WalkFile = NoIndex<ManifestFile> & { hostPath: string };
export type WalkEntry = WalkFile | NoIndex<ManifestDir> | NoIndex<ManifestDirEnd> | NoIndex<ManifestError>;

export interface WalkOptions {
  items: readonly TransferItem[];
  resolver: PathResolver;
  /** Directories the walk checked: every listing and lstat acts relative to one of them. */
  dirs: CheckedDirs;
  skipSourceErrors: boolean;
  /** Entries per yielded group (one group = one batched lstat in a worker). */
  groupSize: number;
  /** The task's filter rules, or null when it has none. */
  filters: FilterMatcher | null;
  lstatMany(paths: readonly FileRef[]): Promise<StatResult[]>;
  signal: AbortSignal;
  onSymlink(): void;
  /** A source error skipped under skip_source_errors (the caller reports the event). */
  onSkip(item: number, path: string, err: FerryError, isDirectory: boolean): void;
}

function modeOf(st: Stats): number {
  return st.mode & 0o7777;
}

export async function* walkItems(opts: WalkOptions): AsyncGenerator<WalkEntry[]> {
  for (let item = 0; item < opts.items.length; item++) {
    opts.signal.throwIfAborted();
    const spec = opts.items[item]!;
    let hostPath: string;
    let st: Stats;
    try {
      const resolved = await opts.resolver.resolve(spec.sourcePath, 'read');
      // The item itself may be a symlink the user named on purpose (the resolver checked that
      // it stays inside a root): its real location is used. Links below it are not followed.
      hostPath = await realpath(resolved.hostPath);
      st = await stat(hostPath);
      // The item's directory (or, for a file, its parent) is checked to lie in the root by the
      // descriptor that opened it; everything below is reached from checked directories.
      opts.dirs.adoptContained(st.isDirectory() ? hostPath : dirname(hostPath), resolved.realRoot);
    } catch (err) {
      const e = fsError(err, 'source', spec.sourcePath);
      const code = skippableCode(e);
      if (code === null || !opts.skipSourceErrors) throw e;
      opts.onSkip(item, '', e, false);
      yield [{ item, path: '', kind: 'error', code, isDirectory: false }];
      continue;
    }
    if (st.isDirectory()) {
      if (spec.recursive === false) throw transferError('Transfer.WrongType', `The source is a directory but the item is not recursive: ${spec.sourcePath}`, 'IS_A_DIRECTORY');
      yield [{ item, path: '', kind: 'dir', mode: modeOf(st), mtimeMs: st.mtimeMs }];
      yield* walkDirectory(opts, item, hostPath);
    } else if (st.isFile()) {
      if (spec.recursive === true) throw transferError('Transfer.WrongType', `The source is a file but the item is recursive: ${spec.sourcePath}`, 'NOT_A_DIRECTORY');
      yield [{ item, path: '', kind: 'file', size: st.size, mtimeMs: st.mtimeMs, mode: modeOf(st), hostPath }];
    } else {
      throw transferError('Transfer.WrongType', `The source is neither a file nor a directory: ${spec.sourcePath}`, 'NOT_A_FILE');
    }
  }
}

async function* walkDirectory(opts: WalkOptions, item: number, base: string): AsyncGenerator<WalkEntry[]> {
  const apiBase = opts.items[item]!.sourcePath;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const subdirs: string[] = [];
    let skipped: SkippableCode | null = null;
    let listing: RawDirent[] | null = null;
    try {
      // The directory as checked (the item's, or one lstat'ed in a checked parent): a link
      // swapped in since is refused, never listed.
      listing = await opts.dirs.withDir(hostJoin(base, rel), (dir) => dir.list());
    } catch (err) {
      skipped = skipOrThrow(opts, item, rel, err, apiBase, true);
    }
    if (listing) {
      let names: string[] = [];
      const undecodable: RawDirent[] = [];
      for (const dirent of listing) {
        // Not UTF-8: reported as such, never looked up by its lossy decoding (which could name
        // another entry).
        if (dirent.raw !== undefined) {
          undecodable.push(dirent);
          continue;
        }
        if (dirent.kind === 'symlink') {
          opts.onSymlink();
          continue;
        }
        // Leave excluded entries out before their lstat when the listing already tells the
        // type; entries of unknown type are filtered once describe() knows it.
        if (opts.filters && (dirent.kind === 'file' || dirent.kind === 'dir') && opts.filters.excludes(dirent.name, dirent.kind)) continue;
        names.push(dirent.name);
        if (names.length >= opts.groupSize) {
          yield await describe(opts, item, base, rel, names, subdirs);
          names = [];
        }
      }
      if (names.length > 0) yield await describe(opts, item, base, rel, names, subdirs);
      const listed = new Set(listing.filter((d) => d.raw === undefined).map((d) => d.name));
      for (const dirent of undecodable) {
        const path = joinRel(rel, dirent.name);
        const code = skipOrThrow(opts, item, path, notUtf8(apiBase, path), apiBase, dirent.kind === 'dir');
        // In the manifest only once, and only if its lossy name is not a real one here.
        if (listed.has(dirent.name)) continue;
        listed.add(dirent.name);
        yield [{ item, path, kind: 'error', code, isDirectory: dirent.kind === 'dir' }];
      }
    }
    yield [{ item, path: rel, kind: 'dirEnd', skipped }];
    for (let k = subdirs.length - 1; k >= 0; k--) stack.push(subdirs[k]!);
  }
}

function skipOrThrow(opts: WalkOptions, item: number, rel: string, err: unknown, apiBase: string, isDirectory: boolean): SkippableCode {
  const e = fsError(err, 'source', rel === '' ? apiBase : `${apiBase.replace(/\/+$/, '')}/${rel}`);
  const code = skippableCode(e);
  if (code === null || !opts.skipSourceErrors) throw e;
  opts.onSkip(item, rel, e, isDirectory);
  return code;
}

/**
 * Paths travel as JSON strings, so only UTF-8 names can be moved. Node decodes any other byte
 * in a listed name as U+FFFD, and the decoded name then names nothing: a listed name with
 * U+FFFD that lstat cannot find was not UTF-8 (a real U+FFFD in a name is found and kept).
 * Rather than a misleading FILE_NOT_FOUND, say what is wrong; skip_source_errors skips it.
 */
const UNDECODABLE = '\uFFFD';

function notUtf8(apiBase: string, rel: string): FerryError {
  const shown = `${apiBase.replace(/\/+$/, '')}/${rel}`;
  return transferError('ClientError.BadRequest.InvalidPath', `Name is not valid UTF-8 (Ferry moves only UTF-8 names; undecodable bytes shown as U+FFFD): ${shown}`, 'INVALID_PATH_NAME');
}

async function describe(opts: WalkOptions, item: number, base: string, parent: string, names: string[], subdirs: string[]): Promise<WalkEntry[]> {
  const apiBase = opts.items[item]!.sourcePath;
  const hostPaths = names.map((name) => hostJoin(base, joinRel(parent, name)));
  // lstat relative to the checked directory; a sub-directory found so is recorded by identity.
  let stats: StatResult[];
  try {
    stats = await opts.dirs.withDir(hostJoin(base, parent), (dir) => opts.lstatMany(names.map((name) => ({ dirFd: dir.fd, name }))));
  } catch (err) {
    // The directory was swapped away since it was listed: its remaining entries are an error.
    stats = names.map(() => ({ errno: errnoOf(err) ?? 'EIO', message: err instanceof Error ? err.message : String(err) }));
  }
  const out: WalkEntry[] = [];
  names.forEach((name, k) => {
    const st = stats[k]!;
    const path = joinRel(parent, name);
    if (st.errno !== undefined) {
      const cause = st.errno === 'ENOENT' && name.includes(UNDECODABLE) ? notUtf8(apiBase, path) : errnoError(st.errno, st.message);
      const code = skipOrThrow(opts, item, path, cause, apiBase, false);
      out.push({ item, path, kind: 'error', code, isDirectory: false });
    } else if (st.kind === 'symlink') {
      opts.onSymlink();
    } else if (opts.filters && (st.kind === 'dir' || st.kind === 'file') && opts.filters.excludes(name, st.kind)) {
      // Excluded (checked again: the listing may not have known the type, or it changed).
    } else if (st.kind === 'dir' && opts.resolver.mayEnter && !opts.resolver.mayEnter({ dev: st.dev!, ino: st.ino! })) {
      // Another root nested in a guest collection: not part of it, not even by name.
    } else if (st.kind === 'dir') {
      opts.dirs.placed(hostPaths[k]!, { dev: st.dev!, ino: st.ino! });
      subdirs.push(path);
      out.push({ item, path, kind: 'dir', mode: st.mode!, mtimeMs: st.mtimeMs! });
    } else if (st.kind === 'file') {
      out.push({ item, path, kind: 'file', size: st.size!, mtimeMs: st.mtimeMs!, mode: st.mode!, hostPath: hostPaths[k]! });
    }
  });
  return out;
}
