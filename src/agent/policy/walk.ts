import { lstat, realpath } from 'node:fs/promises';
import { FerryError } from '../../common/errors.js';
import { joinHost } from './api-path.js';
import { errnoCode, isMissing, toFerryError } from './fs-errors.js';

/**
 * The file-system half of path resolution: where does a path really lead? Kept apart from
 * the policy's decisions (path-policy.ts) so that each stays small.
 */

/**
 * Real location of `realDir` + `rel`, for a path that may not exist yet: realpath() of the
 * deepest existing prefix, plus the components that are missing. A dangling or looping
 * symlink counts as missing here; `missing[0]` is then that link, which `refuseIfSymlink`
 * checks.
 */
export async function locate(realDir: string, rel: readonly string[], apiPath: string): Promise<{ real: string; missing: readonly string[] }> {
  for (let k = rel.length; k > 0; k--) {
    try {
      return { real: await realpath(joinHost(realDir, rel.slice(0, k))), missing: rel.slice(k) };
    } catch (err) {
      if (!isMissing(err)) throw toFerryError(err, apiPath);
    }
  }
  return { real: realDir, missing: rel };
}

/**
 * A missing path's first missing component must not be a (dangling) symlink: creating
 * directories below it, as a transfer's mkdir -p would, would create them wherever it points.
 */
export async function refuseIfSymlink(hostPath: string, apiPath: string): Promise<void> {
  let isLink: boolean;
  try {
    isLink = (await lstat(hostPath)).isSymbolicLink();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw toFerryError(err, apiPath);
  }
  if (isLink) throw new FerryError('ClientError.NotFound', `A dangling symlink is in the way: ${apiPath}`);
}

export type FinalLink =
  | { kind: 'none' }
  | { kind: 'link'; real: string }
  | { kind: 'dangling' };

/** Whether `hostPath` is a symlink, and if so where it really leads. */
export async function inspectFinal(hostPath: string, apiPath: string): Promise<FinalLink> {
  try {
    if (!(await lstat(hostPath)).isSymbolicLink()) return { kind: 'none' };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'none' };
    throw toFerryError(err, apiPath);
  }
  try {
    return { kind: 'link', real: await realpath(hostPath) };
  } catch (err) {
    if (isMissing(err)) return { kind: 'dangling' };
    throw toFerryError(err, apiPath);
  }
}

/** realpath() of each path, or null where it does not exist (a root missing on the host). */
export async function realpathsOrNull(paths: readonly string[]): Promise<Array<string | null>> {
  return Promise.all(paths.map(async (p) => {
    try {
      return await realpath(p);
    } catch (err) {
      if (isMissing(err)) return null;
      throw toFerryError(err, 'a configured root');
    }
  }));
}
