import { FerryError } from '../../common/errors.js';
import { removeTree } from '../../fs/index.js';
import type { DeleteResult } from '../../protocol/link.js';
import { openParent, refuseRootEntry, walkError, type PathPolicy } from '../policy/index.js';

/**
 * Delete a file, symlink or (with `recursive`) a directory tree. Symlinks are removed, never
 * followed (Globus DeleteData). Roots, and directories holding another root, are refused.
 * The tree is removed through held descriptors (src/fs removeTree), so a directory swapped for
 * a link while the delete runs only gets the link removed.
 */
export async function deletePath(policy: PathPolicy, args: { path: string; recursive: boolean; ignoreMissing: boolean }): Promise<DeleteResult> {
  const target = policy.lexical(args.path, 'write');
  if (target.isRoot || target.nestedRoots.length > 0) {
    throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot delete a root): ${target.apiPath}`);
  }
  let opened;
  try {
    opened = openParent(policy.rootDirs, target, 'write');
  } catch (err) {
    if (args.ignoreMissing && err instanceof FerryError && err.code === 'ClientError.NotFound') return { files: 0, directories: 0 };
    throw err;
  }
  const { dir: parent, name } = opened;
  try {
    const st = parent.statOrNull(name!);
    if (!st) {
      if (args.ignoreMissing) return { files: 0, directories: 0 };
      throw new FerryError('ClientError.NotFound', `No such file or directory: ${target.apiPath}`);
    }
    refuseRootEntry(policy.rootDirs, st, target.apiPath, 'delete');
    if (st.kind !== 'dir') {
      parent.unlink(name!);
      return { files: 1, directories: 0 };
    }
    if (!args.recursive) {
      throw new FerryError('ClientError.BadRequest', `${target.apiPath} is a directory; deleting it needs recursive`);
    }
    return await removeTree(parent, name!, st, {
      refuse: (dir) => {
        if (policy.rootDirs.rootAt(dir) >= 0) throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot delete a directory holding a root): ${target.apiPath}`);
      },
    });
  } catch (err) {
    throw walkError(err, target.apiPath);
  } finally {
    parent.close();
  }
}

