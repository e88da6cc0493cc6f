import { Dir, errnoOf, fsErrno } from './dir.js';
import { rawFs } from './load.js';
import type { FileIdentity, RawFs } from './raw.js';

/**
 * The agent's roots as open directories, and walks below them that never follow a link.
 *
 * A root's configured path is the admin's word, so links in it are followed (a root may be a
 * link to a mount); what the path named is then pinned by device and inode the first time it
 * is opened. A root later found to be another directory (a local user who owns its parent
 * replaced it with a link to somewhere else) is refused until the agent restarts, rather than
 * followed.
 *
 * The identities also tell, at every step of a walk, which root a directory belongs to: a
 * directory that *is* another root (nested, bind-mounted or reached through a root configured
 * by a different spelling) switches the walk to that root's flags, so a read-only root stays
 * read-only however it is reached.
 */

export interface RootSpec {
  readonly path: string;
  readonly writable: boolean;
}

type Identity = FileIdentity;

export class RootDirs {
  private readonly pins: Array<Identity | null>;

  constructor(readonly specs: readonly RootSpec[], private readonly raw: RawFs = rawFs) {
    // Pinned now where they exist, so that nesting is known before the first request.
    this.pins = specs.map((spec) => {
      try {
        const dir = Dir.adopt(raw.openRoot(spec.path), raw);
        dir.close();
        return { dev: dir.dev, ino: dir.ino };
      } catch {
        return null;
      }
    });
  }

  /** Open root `i`'s directory (the caller closes it). ENOENT when it does not exist, ESTALE when it was replaced. */
  open(i: number): Dir {
    const spec = this.specs[i];
    if (!spec) throw new RangeError(`no root ${i}`);
    const dir = Dir.adopt(this.raw.openRoot(spec.path), this.raw);
    const pin = this.pins[i];
    if (pin === null || pin === undefined) {
      this.pins[i] = { dev: dir.dev, ino: dir.ino };
    } else if (!dir.sameAs(pin)) {
      dir.close();
      throw fsErrno('ESTALE', 'open', 'the root directory was replaced after the agent started (restart the agent to accept the new one)');
    }
    return dir;
  }

  /** Index of the root whose directory is `dir` (a read-only one if several share it), or -1. */
  rootAt(dir: Identity): number {
    // A root that did not exist at start (a mount that came up late) is pinned now, so that
    // nesting by identity also covers it.
    this.pins.forEach((pin, i) => {
      if (pin !== null) return;
      try {
        this.open(i).close();
      } catch {
        // Still missing: nothing can be nested in it.
      }
    });
    let found = -1;
    this.pins.forEach((pin, i) => {
      if (!pin || pin.dev !== dir.dev || pin.ino !== dir.ino) return;
      if (found < 0 || (this.specs[found]!.writable && !this.specs[i]!.writable)) found = i;
    });
    return found;
  }

  /** Where root `i`'s directory really is (links resolved), or null when it cannot be opened. */
  realPath(i: number): string | null {
    try {
      const dir = this.open(i);
      try {
        return dir.realPath();
      } finally {
        dir.close();
      }
    } catch {
      return null;
    }
  }

  writable(i: number): boolean {
    return this.specs[i]?.writable === true;
  }
}

export interface WalkOptions {
  /** Create missing directories with this mode (mkdir -p); otherwise a missing one is ENOENT. */
  createMode?: number;
  /**
   * Called with every directory the walk enters (not `start`), with the number of components
   * consumed; it may throw to refuse (root checks).
   */
  visit?: (dir: Dir, depth: number) => void;
}

/**
 * Open the directory `components` below `start`, one openat(O_DIRECTORY|O_NOFOLLOW) per
 * component: a link anywhere on the way gives ELOOP, a file ENOTDIR. `start` stays open and
 * owned by the caller; the result is a new Dir (a fresh descriptor on `start` itself when
 * `components` is empty).
 */
export function walkDirs(start: Dir, components: readonly string[], options: WalkOptions = {}): Dir {
  let current = components.length === 0 ? reopen(start) : null;
  let parent = start;
  for (let k = 0; k < components.length; k++) {
    const name = components[k]!;
    let next: Dir;
    try {
      next = openOrCreate(parent, name, options.createMode);
    } catch (err) {
      current?.close();
      throw err;
    }
    current?.close();
    current = next;
    parent = next;
    try {
      options.visit?.(next, k + 1);
    } catch (err) {
      next.close();
      throw err;
    }
  }
  return current!;
}

function openOrCreate(parent: Dir, name: string, createMode: number | undefined): Dir {
  try {
    return parent.openDir(name);
  } catch (err) {
    if (createMode === undefined || errnoOf(err) !== 'ENOENT') throw err;
  }
  try {
    parent.mkdir(name, createMode);
  } catch (err) {
    // Made meanwhile by someone else: open whatever is there now, without following it.
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  return parent.openDir(name);
}

/** A second descriptor on the same directory (through its /proc entry, so surely the same one). */
export function reopen(dir: Dir): Dir {
  const again = Dir.adopt(dir.raw.openRoot(`/proc/self/fd/${dir.fd}`), dir.raw);
  if (!again.sameAs(dir)) {
    again.close();
    throw fsErrno('ESTALE', 'open', 'a directory descriptor could not be reopened');
  }
  return again;
}
