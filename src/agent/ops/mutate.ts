import { FerryError } from '../../common/errors.js';
import type { Dir } from '../../fs/index.js';
import { isSameOrInside, openParent, refuseRootEntry, toFerryError, walkError, type LexicalPath, type PathPolicy } from '../policy/index.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * mkdir and rename. Both act on the last component itself (never through a symlink there),
 * relative to the parent directory's descriptor reached without following links, refuse to
 * touch a root, and never replace an existing file silently.
 */

function refuseRoot(target: LexicalPath, what: string): void {
  if (target.isRoot) throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot ${what} a root): ${target.apiPath}`);
  if (target.nestedRoots.length > 0) {
    throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot ${what} a directory holding another root): ${target.apiPath}`);
  }
}

export async function makeDirectory(policy: PathPolicy, apiPath: string): Promise<void> {
  const target = policy.lexical(apiPath, 'write');
  refuseRoot(target, 'create');
  const { dir, name } = openParent(policy.rootDirs, target, 'write');
  try {
    dir.mkdir(name!, 0o777);
  } catch (err) {
    throw toFerryError(err, target.apiPath, { EEXIST: 'ExternalError.MkdirFailed.Exists' });
  } finally {
    dir.close();
  }
}

const RENAME_CODES = {
  EEXIST: 'ExternalError.RenameFailed.Exists',
  ENOTEMPTY: 'ExternalError.RenameFailed.Exists',
  EINVAL: 'ClientError.BadRequest',
} as const;

/**
 * Rename without overwriting: renameat2(RENAME_NOREPLACE) between the two parents' held
 * descriptors (the fs layer falls back to link+unlink, or check-then-rename for a directory,
 * where the file system lacks it).
 */
export async function renamePath(policy: PathPolicy, oldPath: string, newPath: string): Promise<void> {
  const from = policy.lexical(oldPath, 'write');
  const to = policy.lexical(newPath, 'write');
  refuseRoot(from, 'rename');
  refuseRoot(to, 'replace');

  const source = openParent(policy.rootDirs, from, 'write');
  try {
    let st;
    try {
      st = source.dir.stat(source.name!);
    } catch (err) {
      throw toFerryError(err, from.apiPath);
    }
    refuseRootEntry(policy.rootDirs, st, from.apiPath, 'rename');
    if (st.kind === 'dir') refuseHoldingRoot(policy, source.dir, source.name!, st, from.apiPath);
    let dest;
    try {
      dest = openParent(policy.rootDirs, to, 'write');
    } catch (err) {
      throw walkError(err, to.apiPath.replace(/\/[^/]*$/, '') || '/');
    }
    try {
      source.dir.rename(source.name!, dest.dir, dest.name!, true);
    } catch (err) {
      throw toFerryError(err, `${from.apiPath} -> ${to.apiPath}`, RENAME_CODES);
    } finally {
      dest.dir.close();
    }
  } finally {
    source.dir.close();
  }
}

/**
 * A directory holding a root (configured by any spelling, a bind mount, a link) must not be
 * renamed: the root would move with it. Decided by where the kernel says the directory and the
 * roots really are.
 */
function refuseHoldingRoot(policy: PathPolicy, parent: Dir, name: string, st: FileIdentity, apiPath: string): void {
  const dir = parent.openDirChecked(name, st);
  let real: string;
  try {
    real = dir.realPath();
  } finally {
    dir.close();
  }
  policy.roots.forEach((_root, i) => {
    const rootReal = policy.rootDirs.realPath(i);
    if (rootReal !== null && isSameOrInside(rootReal, real)) {
      throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot rename a directory holding another root): ${apiPath}`);
    }
  });
}
