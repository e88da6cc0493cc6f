import { basename, dirname } from 'node:path';
import { Dir, fsErrno, rawFs, reopen, type AtPath } from '../../fs/index.js';
import type { FileIdentity } from '../../fs/index.js';

/** One spelling per directory: host paths as keys, without a trailing slash (but '/'). */
function key(host: string): string {
  return host.length > 1 ? host.replace(/\/+$/, '') || '/' : host;
}

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
  private readonly identities = new Map<string, FileIdentity>();
  /**
   * Item directories, held open for the session: every other recorded directory is reached
   * from one of them by a walk that opens one component at a time (no link followed) and
   * checks each against its recorded identity.
   */
  private readonly anchors = new Map<string, Dir>();

  /**
   * Open `host` (links in it followed: the policy resolved it), check that what opened lies in
   * `realRoot` by the path the kernel reports for the descriptor, and record it. For an item's
   * own directory, where no checked parent exists.
   */
  adoptContained(hostPath: string, realRoot: string): FileIdentity {
    const host = key(hostPath);
    if (this.anchors.has(host)) return this.identities.get(host)!;
    const dir = Dir.adopt(rawFs.openRoot(host));
    try {
      const real = dir.realPath();
      if (real !== realRoot && !real.startsWith(realRoot === '/' ? '/' : `${realRoot}/`)) {
        throw fsErrno('EPERM', 'open', 'the directory is not inside its root (a link was swapped in?)');
      }
    } catch (err) {
      dir.close();
      throw err;
    }
    this.anchor(host, dir);
    return { dev: dir.dev, ino: dir.ino };
  }

  /**
   * Hold `dir`, an item's directory opened by the agent's policy (a walk from its root), as
   * the start of walks to the directories below it. The table owns it from now on.
   */
  anchor(hostPath: string, dir: Dir): void {
    const host = key(hostPath);
    const held = this.anchors.get(host);
    if (held?.sameAs(dir)) {
      dir.close();
      return;
    }
    held?.close();
    this.anchors.set(host, dir);
    this.placed(host, dir);
  }

  /** Let go of the held item directories (the session is over). */
  close(): void {
    for (const dir of this.anchors.values()) dir.close();
    this.anchors.clear();
  }

  /** Record a directory placed at `host` (its descriptor is open now). */
  placed(host: string, dir: FileIdentity): void {
    this.identities.set(key(host), { dev: dir.dev, ino: dir.ino });
  }

  identityOf(host: string): FileIdentity | null {
    return this.identities.get(key(host)) ?? null;
  }

  /**
   * Open the recorded directory `host` (the caller closes it): from the nearest held item
   * directory above it, one component at a time with O_NOFOLLOW|O_DIRECTORY, each checked
   * against the identity recorded when the session placed or listed it. A directory swapped
   * since (for a link, or another directory) gives ESTALE or ELOOP; a directory this session
   * never recorded is a programming error.
   */
  open(hostPath: string): Dir {
    const host = key(hostPath);
    if (!this.identities.has(host)) throw new Error(`directory not recorded by this session: ${host}`);
    let top = host;
    const below: string[] = [];
    while (!this.anchors.has(top)) {
      const up = dirname(top);
      if (up === top) throw new Error(`no item directory above ${host}`);
      below.unshift(basename(top));
      top = up;
    }
    let current = reopen(this.anchors.get(top)!);
    let at = top;
    try {
      for (const name of below) {
        at = at === '/' ? `/${name}` : `${at}/${name}`;
        const identity = this.identities.get(at);
        if (!identity) throw new Error(`directory not recorded by this session: ${at}`);
        const next = current.openDirChecked(name, identity);
        current.close();
        current = next;
      }
      return current;
    } catch (err) {
      current.close();
      throw err;
    }
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
