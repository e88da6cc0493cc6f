import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Semaphore } from '../util/waiters.js';
import { errnoOf, fsError } from './errors.js';

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
  identity: { dev: number; ino: number };
}

export class DirectoryFinisher {
  private readonly dirs: PendingDir[] = [];
  /** Every placed directory's identity, by host path (deleteExtras and replacements check it). */
  private readonly identities = new Map<string, { dev: number; ino: number }>();

  constructor(private readonly preserveTimestamp: boolean) {}

  /**
   * A directory the session placed at `host` (created, or kept as it was), for the source's
   * `mode` and `mtimeMs`. `current` is its mode now when it already existed, else null.
   */
  note(host: string, api: string, sourceMode: number, sourceMtimeMs: number | undefined, current: number | null, identity: { dev: number; ino: number }): void {
    this.identities.set(host, { dev: identity.dev, ino: identity.ino });
    const want = sourceMode & DIR_MODE_BITS;
    const mode = current !== null && (current & DIR_MODE_BITS) === want ? null : want;
    const mtimeMs = this.preserveTimestamp && sourceMtimeMs !== undefined ? sourceMtimeMs : null;
    if (mode === null && mtimeMs === null) return;
    this.dirs.push({ host, api, mode, mtimeMs, depth: depthOf(host), identity: { dev: identity.dev, ino: identity.ino } });
  }

  /** The identity a placed directory had, or null if this session did not place it. */
  identityOf(host: string): { dev: number; ino: number } | null {
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
          await applyOne(d);
        } catch (err) {
          const code = errnoOf(err);
          if (code === undefined || !KEEPS_METADATA.has(code)) throw fsError(err, 'destination', d.api);
        }
      }, signal)));
    }
  }
}

/**
 * Through a descriptor opened without following a symlink: the directory was checked with
 * lstat when it was placed, possibly hours ago, and someone with write access to the tree may
 * have swapped it for a link since; chmod/utimes by path would then change the link's target.
 * A directory that is now a link (ELOOP, ENOTDIR) counts as gone.
 */
async function applyOne(d: PendingDir): Promise<void> {
  let fh;
  try {
    fh = await open(d.host, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ELOOP' || code === 'ENOTDIR') return;
    throw err;
  }
  try {
    const now = await fh.stat();
    // Not the directory that was placed (a parent was swapped for a link meanwhile): leave it.
    if (now.dev !== d.identity.dev || now.ino !== d.identity.ino) return;
    // The mtime first: chmod changes only the ctime, so the order is free, and a mode without
    // owner write would not stop utimes for the owner anyway.
    if (d.mtimeMs !== null) await fh.utimes(Date.now() / 1000, d.mtimeMs / 1000);
    if (d.mode !== null) await fh.chmod(d.mode);
  } finally {
    await fh.close();
  }
}

function depthOf(host: string): number {
  let n = 0;
  for (let k = host.indexOf('/'); k >= 0; k = host.indexOf('/', k + 1)) n++;
  // A trailing slash (an item root written as '/dst/') does not make it deeper.
  return host.endsWith('/') && host.length > 1 ? n - 1 : n;
}
