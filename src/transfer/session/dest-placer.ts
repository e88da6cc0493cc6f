import { basename, dirname } from 'node:path';
import { FerryError } from '../../common/errors.js';
import { removeTree, type RawStat } from '../../fs/index.js';
import type { CheckedDirs } from './checked-dirs.js';
import type { SessionContext } from './context.js';
import type { DestPolicy } from './dest-policy.js';
import { errnoOf, transferError } from '../errors.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * Places the destination's directories: an item's own through the agent's policy (a walk from
 * its root that follows no link), every one below relative to its parent's checked descriptor,
 * each recorded by identity in CheckedDirs and refused if it is a read-only root's.
 */
export class DirPlacer {
  constructor(private readonly ctx: SessionContext, private readonly dirs: CheckedDirs, private readonly policy: DestPolicy) {}

  /**
   * Open an item's destination directory `host` through the agent's policy (made with its
   * parents if missing, no link followed, refused in a read-only root) and record it as placed.
   * Returns its stat.
   */
  placeByPolicy(host: string, api: string): RawStat {
    let dir;
    try {
      dir = this.ctx.resolver.openWriteDir(api, 0o777);
    } catch (err) {
      if (errnoOf(err) === 'ENOTDIR') throw transferError('Transfer.WrongType', `Not a directory: ${api}`, 'NOT_A_DIRECTORY');
      if (err instanceof FerryError && err.code === 'EndpointPermissionDenied') throw transferError('Transfer.PermissionDenied', err.message, 'PERMISSION_DENIED', err);
      throw err;
    }
    let st: RawStat;
    try {
      st = dir.fstat();
      this.policy.checkDirIdentity(st, api);
    } catch (err) {
      dir.close();
      throw err;
    }
    // Held for the session: every directory below is reached from it, one checked step at a time.
    this.dirs.anchor(host, dir);
    return st;
  }

  /**
   * Make `host` a directory: create it, keep it, or replace a non-directory (delete_destination_extra),
   * relative to its parent's checked descriptor. Returns the mode of a directory that was
   * already there (null for a new one) and its identity.
   */
  async prepareDir(host: string, isRoot: boolean, api: string): Promise<{ mode: number | null; identity: FileIdentity }> {
    if (isRoot) {
      const st = this.placeByPolicy(host, api);
      return { mode: await this.openForSession(host, st), identity: st };
    }
    const name = basename(host);
    return this.dirs.withDir(dirname(host), async (parent) => {
      const st = parent.statOrNull(name);
      if (st?.kind === 'dir') {
        const dir = parent.openDirChecked(name, st);
        try {
          this.policy.checkDirIdentity(st, api);
          this.dirs.placed(host, st);
        } finally {
          dir.close();
        }
        return { mode: await this.openForSession(host, st), identity: st };
      }
      if (st) {
        if (!this.ctx.spec.options.deleteDestinationExtra) throw transferError('Transfer.WrongType', `Not a directory: ${api}`, 'NOT_A_DIRECTORY');
        // Not a directory (a file, a link): removed itself, never followed.
        parent.unlink(name);
      }
      try {
        parent.mkdir(name, 0o777);
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw err;
      }
      const dir = parent.openDir(name);
      try {
        const made = dir.fstat();
        this.policy.checkDirIdentity(made, api);
        this.dirs.placed(host, made);
        return { mode: null, identity: made };
      } finally {
        dir.close();
      }
    });
  }

  /**
   * A directory left read-only (or unsearchable) by an earlier transfer of a 0555-like
   * directory: the owner opens it for this session; finishDirectories puts the source's mode
   * back. Returns its mode when it was already usable, else null.
   */
  private async openForSession(host: string, st: RawStat): Promise<number | null> {
    if ((st.mode & 0o300) === 0o300 || st.uid !== process.getuid?.()) return st.mode & 0o7777;
    await this.dirs.withDir(host, (dir) => dir.raw.fchmod(dir.fd, (st.mode & 0o7777) | 0o700));
    return null;
  }

  /** delete_destination_extra: a directory where the source has a file goes, unless the policy keeps it. */
  async replaceDirectory(host: string, api: string, st: FileIdentity): Promise<void> {
    const { ctx } = this;
    const parent = this.dirs.open(dirname(host));
    try {
      const reason = this.policy.mayRemove(api, { dev: st.dev, ino: st.ino, kind: 'dir' });
      if (reason !== null) throw transferError('Transfer.PermissionDenied', `Path not allowed (${reason}): ${api}`, 'PERMISSION_DENIED');
      await removeTree(parent, basename(host), st, {
        signal: ctx.guard.signal,
        refuse: (d) => {
          if (ctx.resolver.rootOfDir(d)) throw transferError('Transfer.PermissionDenied', `Path not allowed (a root lies inside): ${api}`, 'PERMISSION_DENIED');
        },
      });
    } finally {
      parent.close();
    }
  }
}
