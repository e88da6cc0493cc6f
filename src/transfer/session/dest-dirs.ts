import { basename, dirname } from 'node:path';
import { Dir, rawFs } from '../../fs/index.js';
import { Semaphore } from '../util/waiters.js';
import { errnoOf, fsError } from '../errors.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * Destination directories' own metadata: the source directory's permission bits, and with
 * preserve_timestamp its mtime. Neither can be applied when the directory is placed: writing
 * its children would move the mtime again, and a source mode without owner write/search
 * (0555, 0500, ...) would lock the session out of the directory it still has to fill. So
 * directories are created writable, noted here, and finished once at the end of a successful
 * session, deepest first: one chmod (only where the mode differs or is unknown) and one utimes
 * per directory, on libuv's pool, a bounded number at a time.
 *
 * Kept bits: rwx for user, group and other, plus setgid (group inheritance) and sticky;
 * setuid means nothing on a directory and is dropped (as it is for files).
 */

const DIR_MODE_BITS = 0o3777;
/**
 * Failures that leave a directory's metadata as it is rather than failing a session whose files
 * are all durable: gone, not ours (EPERM, EACCES), or a file system that cannot (read-only,
 * FUSE/CIFS without chmod or utimes).
 */
const KEEPS_METADATA = new Set(['ENOENT', 'EPERM', 'EACCES', 'EROFS', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Directories finished at once (each is one or two calls on libuv's thread pool). */
const FINISH_CONCURRENCY = 16;

interface PendingDir {
  host: string;
  /** For error messages. */
  api: string;
  /** null: the mode is already right. */
  mode: number | null;
  /** null: leave the mtime alone. */
  mtimeMs: number | null;
  depth: number;
  /** Device and inode when it was placed: a directory swapped since is left alone. */
  identity: FileIdentity;
}

export class DirectoryFinisher {
  private readonly dirs: PendingDir[] = [];
  /** Every placed directory's identity, by host path (deleteExtras and replacements check it). */
  private readonly identities = new Map<string, FileIdentity>();

  /**
   * @param open opens a placed directory by its host path (CheckedDirs.open; the default,
   *   for tests, opens by path with O_NOFOLLOW on the last component and checks the identity).
   */
  constructor(private readonly preserveTimestamp: boolean, private readonly open: (host: string) => Dir = openByPath) {}

  /**
   * A directory the session placed at `host` (created, or kept as it was), for the source's
   * `mode` and `mtimeMs`. `current` is its mode now when it already existed, else null.
   */
  note(host: string, api: string, sourceMode: number, sourceMtimeMs: number | undefined, current: number | null, identity: FileIdentity): void {
    this.identities.set(host, { dev: identity.dev, ino: identity.ino });
    const want = sourceMode & DIR_MODE_BITS;
    const mode = current !== null && (current & DIR_MODE_BITS) === want ? null : want;
    const mtimeMs = this.preserveTimestamp && sourceMtimeMs !== undefined ? sourceMtimeMs : null;
    if (mode === null && mtimeMs === null) return;
    this.dirs.push({ host, api, mode, mtimeMs, depth: depthOf(host), identity: { dev: identity.dev, ino: identity.ino } });
  }

  /** The identity a placed directory had, or null if this session did not place it. */
  identityOf(host: string): FileIdentity | null {
    return this.identities.get(host) ?? null;
  }

  /** How many directories wait for their metadata. */
  get pending(): number {
    return this.dirs.length;
  }

  /**
   * Apply what was noted, deepest level first: a parent's mode is set only after everything
   * below it is done, so a mode without search permission cannot hide a child still to finish.
   * A directory that has gone (or become a symlink), that this process may not change (owned by
   * another user, e.g. a pre-existing item root) or whose file system cannot, keeps what it has
   * (KEEPS_METADATA); any other failure fails the session.
   */
  async finish(signal: AbortSignal): Promise<void> {
    const dirs = this.dirs.splice(0);
    // Stable sort: same-depth directories keep the walk's order.
    dirs.sort((a, b) => b.depth - a.depth);
    const slots = new Semaphore(FINISH_CONCURRENCY);
    let at = 0;
    while (at < dirs.length) {
      let end = at;
      while (end < dirs.length && dirs[end]!.depth === dirs[at]!.depth) end++;
      const level = dirs.slice(at, end);
      at = end;
      await Promise.all(level.map((d) => slots.run(async () => {
        signal.throwIfAborted();
        try {
          await applyOne(d, this.open);
        } catch (err) {
          const code = errnoOf(err);
          if (code === undefined || !KEEPS_METADATA.has(code)) throw fsError(err, 'destination', d.api);
        }
      }, signal)));
    }
  }
}

/**
 * Through the directory's descriptor, reached from the session's held item directory one
 * checked component at a time (CheckedDirs): it was placed possibly hours ago, and someone with
 * write access to the tree may have swapped it (or a parent) for a link since; chmod/utimes by
 * path would then change the link's target. A directory that was swapped counts as gone.
 */
async function applyOne(d: PendingDir, open: (host: string) => Dir): Promise<void> {
  let dir: Dir;
  try {
    dir = open(d.host);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ESTALE') return;
    throw err;
  }
  try {
    // Not the directory that was placed: leave it.
    if (!dir.sameAs(d.identity)) return;
    // The mtime first: chmod changes only the ctime, so the order is free, and a mode without
    // owner write would not stop utimes for the owner anyway.
    if (d.mtimeMs !== null) dir.raw.futimes(dir.fd, Date.now(), d.mtimeMs);
    if (d.mode !== null) dir.raw.fchmod(dir.fd, d.mode);
  } finally {
    dir.close();
  }
}

function depthOf(host: string): number {
  let n = 0;
  for (let k = host.indexOf('/'); k >= 0; k = host.indexOf('/', k + 1)) n++;
  // A trailing slash (an item root written as '/dst/') does not make it deeper.
  return host.endsWith('/') && host.length > 1 ? n - 1 : n;
}

/** A directory by path, the last component not followed (the caller checks its identity). */
function openByPath(host: string): Dir {
  const parent = Dir.adopt(rawFs.openRoot(dirname(host)));
  try {
    return parent.openDir(basename(host));
  } finally {
    parent.close();
  }
}
