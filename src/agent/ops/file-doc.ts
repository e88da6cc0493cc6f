import type { Dir, RawStat } from '../../fs/index.js';
import type { FileDoc, FileType } from '../../protocol/file-doc.js';
import type { OwnerNames } from './owners.js';

/** Builds Globus `file` documents (globus-api.md §1.1) from host stat data. */

export interface DocContext {
  readonly owners: OwnerNames;
  /**
   * The stat of what a symlink's text leads to, or null: dangling, looping, unreadable, or
   * leading outside the root. A link out of the root is reported like a dangling one: the
   * agent must not disclose (or touch) what lies outside its roots.
   */
  readonly follow: (dir: Dir, linkText: string) => RawStat | null;
  /** How a link's text is shown in link_target (absent: as it is). A guest never sees host paths. */
  readonly showLink?: (linkText: string) => string | null;
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

export function fileTypeOf(st: { mode: number }): FileType {
  switch (st.mode & 0o170000) {
    case 0o040000: return 'dir';
    case 0o100000: return 'file';
    case 0o020000: return 'chr';
    case 0o060000: return 'blk';
    case 0o010000: return 'pipe';
    default: return 'other';
  }
}

/**
 * The file document for `name` in `dir`. A valid symlink is reported with its target's type
 * and attributes, and the link's own attributes in the link_* fields; a dangling one as
 * 'invalid_symlink' with the link's attributes. Errors are raw fs errors for the caller to
 * map (a listing skips entries that vanished meanwhile).
 */
export async function fileDocFor(dir: Dir, name: string, shownAs: string, ctx: DocContext): Promise<FileDoc> {
  return docFor(dir.stat(name), shownAs, ctx, () => dir.readlink(name), (text) => ctx.follow(dir, text));
}

/** The document of a directory already open (a root, or the target of stat). */
export async function fileDocOfDir(dir: Dir, shownAs: string, ctx: DocContext): Promise<FileDoc> {
  return docFor(dir.fstat(), shownAs, ctx, () => '', () => null);
}

async function docFor(lst: RawStat, name: string, ctx: DocContext, readlink: () => string, follow: (text: string) => RawStat | null): Promise<FileDoc> {
  if (lst.kind !== 'symlink') {
    return {
      ...(await attributes(lst, ctx.owners)),
      DATA_TYPE: 'file', name, type: fileTypeOf(lst), link_target: null,
      link_size: null, link_user: null, link_group: null, link_last_modified: null,
    };
  }
  const target = readlink();
  const followed = follow(target);
  const link = await attributes(lst, ctx.owners);
  return {
    ...(followed ? await attributes(followed, ctx.owners) : link),
    DATA_TYPE: 'file', name, type: followed ? fileTypeOf(followed) : 'invalid_symlink', link_target: ctx.showLink ? ctx.showLink(target) : target,
    link_size: link.size, link_user: link.user, link_group: link.group, link_last_modified: link.last_modified,
  };
}

async function attributes(st: RawStat, owners: OwnerNames): Promise<Pick<FileDoc, 'size' | 'last_modified' | 'permissions' | 'user' | 'group'>> {
  const [user, group] = await Promise.all([owners.user(st.uid), owners.group(st.gid)]);
  return {
    size: st.size,
    last_modified: formatLastModified(st.mtimeMs),
    permissions: formatPermissions(st.mode),
    user,
    group,
  };
}

