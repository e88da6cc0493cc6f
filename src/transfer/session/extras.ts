import { errnoOf, fsErrno, removeTree, type Dir, type RawStat } from '../../fs/index.js';
import type { FilterMatcher } from './filters.js';
import { isPartialName } from './paths.js';
import type { FileIdentity } from '../../fs/index.js';

export interface ExtrasPolicy {
  filters: FilterMatcher | null;
  /** null when `name` may be removed, else why not (a root, a read-only root). */
  mayRemove(name: string, st: RawStat): string | null;
  /** `name` was kept because of the policy. */
  refused(name: string, reason: string): void;
  /** Whether a directory met inside an extra is a root (then the removal stops there). */
  isRootDir?(dir: FileIdentity): boolean;
}

/**
 * delete_destination_extra for one directory: remove the destination entries whose names the
 * source did not announce there (entries of another type were already replaced when their
 * source entry was placed). Partial files of running sessions are left alone, and so are
 * entries the task's filter rules exclude (as rsync protects excluded files from --delete): the
 * rules are matched against the destination entry's own name and type, a symlink or special
 * file counting as a file. Roots, directories holding one, and anything in a read-only root
 * are kept (the policy says why, in an event).
 *
 * Everything happens relative to `dir`, the descriptor of the directory the session placed
 * (checked by the caller), and trees are removed through held descriptors: a link is
 * removed, never what it points to, even if it was swapped in while the removal ran.
 */
export async function deleteExtras(dir: Dir, keep: ReadonlySet<string>, signal: AbortSignal, policy: ExtrasPolicy): Promise<number> {
  let removed = 0;
  const extras = dir.list().filter((e) => {
    if (keep.has(e.name) || isPartialName(e.name)) return false;
    return !(policy.filters && policy.filters.excludes(e.name, e.kind === 'dir' ? 'dir' : 'file'));
  });
  for (const { name } of extras) {
    signal.throwIfAborted();
    const st = dir.statOrNull(name);
    if (!st) continue;
    const reason = policy.mayRemove(name, st);
    if (reason !== null) {
      policy.refused(name, reason);
      continue;
    }
    if (st.kind === 'dir') {
      await removeTree(dir, name, st, {
        signal,
        refuse: (d) => {
          if (policy.isRootDir?.(d)) throw fsErrno('EPERM', 'rmdir', 'a root lies inside');
        },
      });
    } else {
      try {
        dir.unlink(name);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
    }
    removed += 1;
  }
  return removed;
}
