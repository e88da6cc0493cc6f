import { link, lstat, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { FerryError } from '../../common/errors.js';
import { errnoCode, toFerryError, type PathPolicy, type ResolvedPath } from '../policy/index.js';

/**
 * mkdir and rename. Both act on the last component itself (never through a symlink there),
 * refuse to touch a root, and never replace an existing file silently.
 */

function refuseRoot(target: ResolvedPath, what: string): void {
  if (target.isRoot) throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot ${what} a root): ${target.apiPath}`);
  if (target.nestedRoots.length > 0) {
    throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot ${what} a directory holding another root): ${target.apiPath}`);
  }
}

export async function makeDirectory(policy: PathPolicy, apiPath: string): Promise<void> {
  const target = await policy.resolve(apiPath, 'write', { followFinal: false });
  refuseRoot(target, 'create');
  try {
    await mkdir(target.hostPath);
  } catch (err) {
    throw toFerryError(err, target.apiPath, { EEXIST: 'ExternalError.MkdirFailed.Exists' });
  }
}

const RENAME_CODES = {
  EEXIST: 'ExternalError.RenameFailed.Exists',
  ENOTEMPTY: 'ExternalError.RenameFailed.Exists',
  EINVAL: 'ClientError.BadRequest',
} as const;

/** errnos of link(2) that mean "no hard links here", not "the rename cannot work". */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/**
 * Rename without overwriting. Linux's renameat2(RENAME_NOREPLACE) would do this atomically,
 * but Node does not expose it, so:
 * - non-directories: link(2) to the new name (fails with EEXIST if it exists, atomically),
 *   then unlink the old name. Between the two calls both names exist; a crash there leaves
 *   both (nothing is lost). link(2) does not follow a symlink, so a link is renamed itself.
 * - directories (and file systems without hard links): check that the new name is absent,
 *   then rename(2). Race left: something created at the new name between the check and the
 *   rename is replaced if it is an empty directory (a non-empty one or a non-directory makes
 *   rename fail, reported as Exists/NotDirectory).
 */
export async function renamePath(policy: PathPolicy, oldPath: string, newPath: string): Promise<void> {
  const from = await policy.resolve(oldPath, 'write', { followFinal: false });
  const to = await policy.resolve(newPath, 'write', { followFinal: false });
  refuseRoot(from, 'rename');
  refuseRoot(to, 'replace');

  let source;
  try {
    source = await lstat(from.hostPath);
  } catch (err) {
    throw toFerryError(err, from.apiPath);
  }
  const newParentApi = posix.dirname(to.apiPath);
  try {
    const parent = await stat(posix.dirname(to.hostPath));
    if (!parent.isDirectory()) throw new FerryError('ExternalError.NotDirectory', `The new parent is not a directory: ${newParentApi}`);
  } catch (err) {
    throw toFerryError(err, newParentApi);
  }

  if (!source.isDirectory() && (await linkThenUnlink(from, to))) return;
  await checkAbsent(to);
  try {
    await rename(from.hostPath, to.hostPath);
  } catch (err) {
    throw toFerryError(err, `${from.apiPath} -> ${to.apiPath}`, RENAME_CODES);
  }
}

/** True when done; false when the file system has no hard links and rename(2) must do. */
async function linkThenUnlink(from: ResolvedPath, to: ResolvedPath): Promise<boolean> {
  try {
    await link(from.hostPath, to.hostPath);
  } catch (err) {
    if (NO_HARD_LINKS.has(errnoCode(err) ?? '')) return false;
    throw toFerryError(err, `${from.apiPath} -> ${to.apiPath}`, RENAME_CODES);
  }
  try {
    await unlink(from.hostPath);
  } catch (err) {
    // Undo, so a failed rename leaves things as they were.
    await unlink(to.hostPath).catch(() => undefined);
    throw toFerryError(err, from.apiPath);
  }
  return true;
}

async function checkAbsent(to: ResolvedPath): Promise<void> {
  try {
    await lstat(to.hostPath);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw toFerryError(err, to.apiPath);
  }
  throw new FerryError('ExternalError.RenameFailed.Exists', `The new name already exists: ${to.apiPath}`);
}
