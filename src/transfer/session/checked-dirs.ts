import { readlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Dir, fsErrno, rawFs, type AtPath } from '../../fs/index.js';

/**
 * The directories a session works in, known by the identity (device and inode) they had when
 * the session checked them. The destination records an item's destination, opened by the
 * agent's policy with a walk that follows no link, and every directory it creates or keeps
 * below it, opened relative to its parent's descriptor; the source records each item's
 * directory (checked to lie inside its root) and every sub-directory its walk lstat'ed
 * relative to a checked parent.
 *
 * Work in a directory (lstat a run of files, read a batch, create a partial, commit a group,
 * remove extras) opens it for that work and checks that it is still the recorded one. A
 * directory a local user swapped for a link (or for another directory) since is refused with
 * ESTALE instead of being used: every open, create, rename and unlink then acts relative to a
 * descriptor of a directory this session checked, never to a path a link could redirect.
 */
export class CheckedDirs {
  private readonly identities = new Map<string, { dev: number; ino: number }>();

  /**
   * Open `host` (links in it followed: the policy resolved it), check that what opened lies in
   * `realRoot` by the path the kernel reports for the descriptor, and record it. For an item's
   * own directory, where no checked parent exists.
   */
  adoptContained(host: string, realRoot: string): { dev: number; ino: number } {
    const dir = Dir.adopt(rawFs.openRoot(host));
    try {
      const real = readlinkSync(`/proc/self/fd/${dir.fd}`);
      if (real !== realRoot && !real.startsWith(realRoot === '/' ? '/' : `${realRoot}/`)) {
        throw fsErrno('EPERM', 'open', 'the directory is not inside its root (a link was swapped in?)');
      }
      this.placed(host, dir);
      return { dev: dir.dev, ino: dir.ino };
    } finally {
      dir.close();
    }
  }

  /** Record a directory placed at `host` (its descriptor is open now). */
  placed(host: string, dir: { dev: number; ino: number }): void {
    this.identities.set(host, { dev: dir.dev, ino: dir.ino });
  }

  identityOf(host: string): { dev: number; ino: number } | null {
    return this.identities.get(host) ?? null;
  }

  /**
   * Open the placed directory `host` (the caller closes it). ESTALE when the path now leads to
   * another directory; a directory this session never placed is a programming error.
   */
  open(host: string): Dir {
    const identity = this.identities.get(host);
    if (!identity) throw new Error(`destination directory not placed by this session: ${host}`);
    const dir = Dir.adopt(rawFs.openRoot(host));
    if (!dir.sameAs(identity)) {
      dir.close();
      throw fsErrno('ESTALE', 'open', 'a destination directory was replaced during the transfer');
    }
    return dir;
  }

  /** Run `fn` with the placed directory of `host` open, closing it after (also on failure). */
  async withDir<T>(host: string, fn: (dir: Dir) => Promise<T> | T): Promise<T> {
    const dir = this.open(host);
    try {
      return await fn(dir);
    } finally {
      dir.close();
    }
  }

  /** Run `fn` with the file `host` as an AtPath in its (open, checked) directory. */
  withFile<T>(host: string, fn: (ref: AtPath, dir: Dir) => Promise<T> | T): Promise<T> {
    return this.withDir(dirname(host), (dir) => fn({ dirFd: dir.fd, name: basename(host) }, dir));
  }
}
