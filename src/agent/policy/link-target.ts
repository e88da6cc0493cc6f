import { posix } from 'node:path';

/**
 * Where a link's text leads, as components below its root, or null when it leaves the root.
 * `dirRel` is the link's directory below the root; `rootPaths` are the spellings of the root
 * an absolute link may start with (configured and real). Resolved lexically: the walk that
 * follows never follows a link, so a chain of links counts as dangling.
 */
export function linkTargetBelowRoot(text: string, dirRel: readonly string[], rootPaths: readonly string[]): string[] | null {
  let parts: string[];
  if (text.startsWith('/')) {
    const normal = posix.normalize(text);
    const root = rootPaths.find((r) => normal === r || normal.startsWith(r === '/' ? '/' : `${r}/`));
    if (root === undefined) return null;
    parts = normal.slice(root.length).split('/');
  } else {
    parts = [...dirRel, ...text.split('/')];
  }
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(p);
  }
  return out;
}
