import { lstat, opendir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../../common/errors.js';
import type { DeleteResult } from '../../protocol/link.js';
import { isMissing, toFerryError, type PathPolicy } from '../policy/index.js';

/**
 * Delete a file, symlink or (with `recursive`) a directory tree. Symlinks are removed, never
 * followed (Globus DeleteData). Roots, and directories holding another root, are refused.
 * Depth-first with an explicit stack, so deep trees cannot overflow the call stack.
 */
export async function deletePath(policy: PathPolicy, args: { path: string; recursive: boolean; ignoreMissing: boolean }): Promise<DeleteResult> {
  const target = await policy.resolve(args.path, 'write', { followFinal: false });
  if (target.isRoot || target.nestedRoots.length > 0) {
    throw new FerryError('EndpointPermissionDenied', `Path not allowed (cannot delete a root): ${target.apiPath}`);
  }
  let st;
  try {
    st = await lstat(target.hostPath);
  } catch (err) {
    if (isMissing(err) && args.ignoreMissing) return { files: 0, directories: 0 };
    throw toFerryError(err, target.apiPath);
  }
  if (!st.isDirectory()) {
    await unlink(target.hostPath).catch((err: unknown) => { throw toFerryError(err, target.apiPath); });
    return { files: 1, directories: 0 };
  }
  if (!args.recursive) {
    throw new FerryError('ClientError.BadRequest', `${target.apiPath} is a directory; deleting it needs recursive`);
  }
  const result = { files: 0, directories: 0 };
  // Post-order: a directory is removed after everything inside it.
  const stack: Array<{ path: string; visited: boolean }> = [{ path: target.hostPath, visited: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.visited) {
      stack.pop();
      await rmdir(top.path).catch((err: unknown) => { throw toFerryError(err, target.apiPath); });
      result.directories++;
      continue;
    }
    top.visited = true;
    const dir = await opendir(top.path).catch((err: unknown) => { throw toFerryError(err, target.apiPath); });
    for await (const entry of dir) {
      const child = join(top.path, entry.name);
      if (entry.isDirectory()) {
        stack.push({ path: child, visited: false });
      } else {
        await unlink(child).catch((err: unknown) => { if (!isMissing(err)) throw toFerryError(err, target.apiPath); });
        result.files++;
      }
    }
  }
  return result;
}
