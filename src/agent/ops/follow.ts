import { walkDirs, type RawStat } from '../../fs/index.js';
import { linkTargetBelowRoot, rootPathsOf, type LinkGuard, type PathPolicy } from '../policy/index.js';
import type { DocContext } from './file-doc.js';

/**
 * DocContext.follow for entries of the directory `dirRel` below root `rootIndex`: a link's
 * text is resolved lexically against the root, then looked up by a walk that follows nothing,
 * so showing a link's target can never read outside the root (a chain of links shows as
 * 'invalid_symlink'). `guard` narrows the targets further (a guest collection's).
 */
export function followWithin(policy: PathPolicy, rootIndex: number, dirRel: readonly string[], guard?: LinkGuard): DocContext['follow'] {
  let spellings: string[] | null = null;
  return (_dir, text) => {
    spellings ??= rootPathsOf(policy.rootDirs, rootIndex);
    const components = linkTargetBelowRoot(text, dirRel, spellings);
    if (components === null || (guard && !guard(components))) return null;
    try {
      const root = policy.rootDirs.open(rootIndex);
      try {
        if (components.length === 0) return root.fstat();
        const parent = walkDirs(root, components.slice(0, -1));
        try {
          const st: RawStat = parent.stat(components[components.length - 1]!);
          return st.kind === 'symlink' ? null : st;
        } finally {
          parent.close();
        }
      } finally {
        root.close();
      }
    } catch {
      return null;
    }
  };
}
