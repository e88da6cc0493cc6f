import { FerryError } from '../../common/errors.js';
import { reopen, walkDirs, type Dir, type RootDirs } from '../../fs/index.js';
import { linkTargetBelowRoot } from './link-target.js';
import { errnoCode, toFerryError } from './fs-errors.js';
import type { LexicalPath, LinkGuard, PathIntent } from './path-types.js';

/**
 * Descriptor-relative access to a path the policy mapped lexically: walk from its root's
 * directory, one component at a time, never following a link, and decide writes by the root
 * each directory really belongs to (by device and inode, so a read-only root nested in a
 * writable one, or reached by another spelling, stays read-only). What the walk returns is
 * held open: whatever a local user renames or swaps afterwards, the operation acts on the
 * directories that were checked.
 */

export interface OpenedParent {
  /** The directory holding the path's last component; the caller closes it. */
  dir: Dir;
  /** The last component, or null when the path is a root itself (then `dir` is that root). */
  name: string | null;
  /** The root `dir` belongs to by identity. */
  rootIndex: number;
}

/** Walk errors as the API reports them: a link on the way is a refusal, not an I/O error. */
export function walkError(err: unknown, apiPath: string): Error {
  const errno = errnoCode(err);
  if (errno === 'ELOOP') return new FerryError('EndpointPermissionDenied', `Path not allowed (a symbolic link is in the path): ${apiPath}`, { cause: err });
  if (errno === 'ESTALE') return new FerryError('EndpointPermissionDenied', `Path not allowed (a directory on the path was replaced): ${apiPath}`, { cause: err });
  return toFerryError(err, apiPath);
}

function readOnly(apiPath: string): FerryError {
  return new FerryError('EndpointPermissionDenied', `Path not allowed (read-only root): ${apiPath}`);
}

/** Links a read may follow on one path before it gives up (Linux's own limit). */
const MAX_LINK_HOPS = 40;

/**
 * Open the directory `components` below root `rootIndex`, tracking the root each step belongs
 * to. Writes follow no link at all. Reads follow a link on the way only when its text leads
 * inside the same root: it is resolved lexically against the root and the walk starts over
 * from the root's descriptor, still following nothing by itself, so no link can lead a read
 * outside.
 */
interface WalkOptions {
  createMode?: number;
  followLinks?: boolean;
  rootPaths?: readonly string[];
  write?: boolean;
  linkGuard?: LinkGuard;
  /** Refuse to enter a directory that belongs to another root (LexicalPath.confined). */
  confined?: boolean;
}

function walkFromRoot(roots: RootDirs, rootIndex: number, components: readonly string[], apiPath: string, options: WalkOptions = {}): { dir: Dir; rootIndex: number } {
  let root: Dir;
  try {
    root = roots.open(rootIndex);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new FerryError('ClientError.NotFound', `The root holding this path does not exist on the host: ${apiPath}`);
    throw walkError(err, apiPath);
  }
  // The root's own directory may be configured twice (read-only wins): start from its identity.
  const own = roots.rootAt(root);
  const start = own >= 0 ? own : rootIndex;
  let effective = start;
  const visit = (d: Dir): void => {
    const r = roots.rootAt(d);
    if (r < 0) return;
    if (options.confined && r !== start) throw new FerryError('EndpointPermissionDenied', `Path not allowed (another root of the endpoint lies here): ${apiPath}`);
    effective = r;
    // A write walk entering a read-only root by another spelling stops here, before it could
    // create anything below it.
    if (options.write && !roots.writable(r)) throw readOnly(apiPath);
  };
  try {
    if (!options.followLinks) return { dir: walkDirs(root, components, { createMode: options.createMode, visit }), rootIndex: effective };
    let queue = [...components];
    let current = reopen(root);
    let rel: string[] = [];
    let hops = 0;
    try {
      while (queue.length > 0) {
        const name = queue.shift()!;
        let next: Dir;
        try {
          next = current.openDir(name);
        } catch (err) {
          if (errnoCode(err) !== 'ELOOP' || ++hops > MAX_LINK_HOPS) throw err;
          const target = linkTargetBelowRoot(current.readlink(name), rel, options.rootPaths ?? [roots.specs[rootIndex]!.path]);
          if (target === null) throw new FerryError('EndpointPermissionDenied', `Path not allowed (a symlink leads outside the root): ${apiPath}`);
          if (options.linkGuard && !options.linkGuard(target)) throw new FerryError('EndpointPermissionDenied', `Path not allowed (a symlink leads where this request may not read): ${apiPath}`);
          queue = [...target, ...queue];
          current.close();
          current = reopen(root);
          rel = [];
          effective = start;
          continue;
        }
        current.close();
        current = next;
        rel.push(name);
        visit(next);
      }
      return { dir: current, rootIndex: effective };
    } catch (err) {
      current.close();
      throw err;
    }
  } catch (err) {
    throw walkError(err, apiPath);
  } finally {
    root.close();
  }
}

/** The spellings an absolute link into root `i` may use: configured and real. */
export function rootPathsOf(roots: RootDirs, i: number): string[] {
  const configured = roots.specs[i]!.path;
  const real = roots.realPath(i);
  return real && real !== configured ? [configured, real] : [configured];
}

/** Writes follow no link; reads follow those that stay in the root (and pass the path's guard). */
function walkOptionsFor(roots: RootDirs, target: LexicalPath, intent: PathIntent, createMode?: number): WalkOptions {
  if (intent === 'write') return { createMode, write: true, confined: target.confined };
  return { followLinks: true, rootPaths: rootPathsOf(roots, target.rootIndex), linkGuard: target.linkGuard, confined: target.confined };
}

/**
 * Open the parent of `target`. For 'write', the parent must belong to a writable root;
 * `createMode` makes missing parents (as a transfer's destination does).
 */
export function openParent(roots: RootDirs, target: LexicalPath, intent: PathIntent, createMode?: number): OpenedParent {
  if (target.rel.length === 0) {
    const { dir, rootIndex } = walkFromRoot(roots, target.rootIndex, [], target.apiPath, { confined: target.confined });
    if (intent === 'write' && !roots.writable(rootIndex)) {
      dir.close();
      throw readOnly(target.apiPath);
    }
    return { dir, name: null, rootIndex };
  }
  const options = walkOptionsFor(roots, target, intent, createMode);
  const { dir, rootIndex } = walkFromRoot(roots, target.rootIndex, target.rel.slice(0, -1), target.apiPath, options);
  if (intent === 'write' && !roots.writable(rootIndex)) {
    dir.close();
    throw readOnly(target.apiPath);
  }
  return { dir, name: target.rel[target.rel.length - 1]!, rootIndex };
}

/** Open `target` itself as a directory (ls, recursive delete); a link there is refused. */
export function openDirectory(roots: RootDirs, target: LexicalPath, intent: PathIntent): { dir: Dir; rootIndex: number } {
  const options = walkOptionsFor(roots, target, intent);
  const opened = walkFromRoot(roots, target.rootIndex, target.rel, target.apiPath, options);
  if (intent === 'write' && !roots.writable(opened.rootIndex)) {
    opened.dir.close();
    throw readOnly(target.apiPath);
  }
  return opened;
}

/**
 * Open `target` as a directory to write into, creating it and its missing parents with
 * `createMode` (a transfer's destination): no link followed, the directory must belong to a
 * writable root.
 */
export function openDirForWrite(roots: RootDirs, target: LexicalPath, createMode: number): Dir {
  const opened = walkFromRoot(roots, target.rootIndex, target.rel, target.apiPath, { createMode, write: true, confined: target.confined });
  if (!roots.writable(opened.rootIndex)) {
    opened.dir.close();
    throw readOnly(target.apiPath);
  }
  return opened.dir;
}

/** Refuse to remove or rename `name` in `parent` when it is a root's directory (by identity). */
export function refuseRootEntry(roots: RootDirs, st: { dev: bigint; ino: bigint; kind: string }, apiPath: string, what: string): void {
  if (st.kind === 'dir' && roots.rootAt(st) >= 0) {
    throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot ${what} a root): ${apiPath}`);
  }
}
