import type { Stats } from 'node:fs';
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import type { FileDoc, FileType } from '../../protocol/file-doc.js';
import { isSameOrInside } from '../policy/index.js';
import { errnoCode } from '../policy/fs-errors.js';
import type { OwnerNames } from './owners.js';

/** Builds Globus `file` documents (globus-api.md §1.1) from host stat data. */

export interface DocContext {
  /** realpath() of the root the file lies in; link targets outside it are not followed. */
  readonly realRoot: string;
  readonly owners: OwnerNames;
}

/** `YYYY-MM-DD HH:MM:SS+00:00` in UTC, with a space, as Globus sends it. */
export function formatLastModified(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const year = d.getUTCFullYear();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const y = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : String(year);
  return `${y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}+00:00`;
}

export function formatPermissions(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

export function fileTypeOf(st: Stats): FileType {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isCharacterDevice()) return 'chr';
  if (st.isBlockDevice()) return 'blk';
  if (st.isFIFO()) return 'pipe';
  return 'other';
}

/**
 * The target's stats when a symlink may be followed, or null: dangling, looping, unreadable,
 * or leading outside the root. A link out of the root is reported like a dangling one: the
 * agent must not disclose (or touch) what lies outside its roots, and ls/stat of such a path
 * are refused by the policy anyway.
 */
async function followLink(hostPath: string, realRoot: string): Promise<Stats | null> {
  try {
    const real = await realpath(hostPath);
    if (!isSameOrInside(real, realRoot)) return null;
    return await stat(real);
  } catch (err) {
    const errno = errnoCode(err);
    if (errno === 'ENOENT' || errno === 'ELOOP' || errno === 'ENOTDIR' || errno === 'EACCES') return null;
    throw err;
  }
}

/**
 * The file document for `hostPath`, shown under `name`. A valid symlink is reported with its
 * target's type and attributes, and the link's own attributes in the link_* fields; a
 * dangling one as 'invalid_symlink' with the link's attributes. Errors are raw fs errors for
 * the caller to map (a listing skips entries that vanished meanwhile).
 */
export async function fileDocFor(hostPath: string, name: string, ctx: DocContext): Promise<FileDoc> {
  const lst = await lstat(hostPath);
  if (!lst.isSymbolicLink()) {
    return {
      ...(await attributes(lst, ctx.owners)),
      DATA_TYPE: 'file', name, type: fileTypeOf(lst), link_target: null,
      link_size: null, link_user: null, link_group: null, link_last_modified: null,
    };
  }
  const [target, followed] = await Promise.all([readlink(hostPath), followLink(hostPath, ctx.realRoot)]);
  const link = await attributes(lst, ctx.owners);
  return {
    ...(followed ? await attributes(followed, ctx.owners) : link),
    DATA_TYPE: 'file', name, type: followed ? fileTypeOf(followed) : 'invalid_symlink', link_target: target,
    link_size: link.size, link_user: link.user, link_group: link.group, link_last_modified: link.last_modified,
  };
}

async function attributes(st: Stats, owners: OwnerNames): Promise<Pick<FileDoc, 'size' | 'last_modified' | 'permissions' | 'user' | 'group'>> {
  const [user, group] = await Promise.all([owners.user(st.uid), owners.group(st.gid)]);
  return {
    size: st.size,
    last_modified: formatLastModified(st.mtimeMs),
    permissions: formatPermissions(st.mode),
    user,
    group,
  };
}
