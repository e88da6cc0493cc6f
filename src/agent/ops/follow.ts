import { walkDirs, type Dir, type FileIdentity, type RawStat } from '../../fs/index.js';
import { linkTargetBelowRoot, rootPathsOf, type LexicalPath, type PathPolicy } from '../policy/index.js';
import type { DocContext } from './file-doc.js';

/**
 * DocContext.follow and showLink for entries of the directory `dirRel` below `target`'s root:
 * a link's text is resolved lexically against the root, then looked up by a walk that follows
 * nothing, so showing a link's target can never read outside the root (a chain of links shows
 * as 'invalid_symlink'). The path's guard narrows the targets further (a guest collection's),
 * and a confined path never looks into another root nested in its own.
 */
export function followWithin(policy: PathPolicy, target: LexicalPath, dirRel: readonly string[]): Pick<DocContext, 'follow' | 'showLink'> {
  const { rootIndex, linkGuard: guard, confined, showLink } = target;
  let spellings: string[] | null = null;
  const below = (text: string): string[] | null => {
    spellings ??= rootPathsOf(policy.rootDirs, rootIndex);
    return linkTargetBelowRoot(text, dirRel, spellings);
  };
  const follow = (_dir: Dir, text: string): RawStat | null => {
    const components = below(text);
    if (components === null || (guard && !guard(components))) return null;
    try {
      const root = policy.rootDirs.open(rootIndex);
      try {
        const own = policy.rootDirs.rootAt(root);
        const start = own >= 0 ? own : rootIndex;
        const otherRoot = (id: FileIdentity): boolean => {
          const r = policy.rootDirs.rootAt(id);
          return r >= 0 && r !== start;
        };
        if (components.length === 0) return root.fstat();
        const parent = walkDirs(root, components.slice(0, -1), confined ? { visit: (d) => { if (otherRoot(d)) throw new Error('another root'); } } : {});
        try {
          const st: RawStat = parent.stat(components[components.length - 1]!);
          if (st.kind === 'symlink' || (confined && st.kind === 'dir' && otherRoot(st))) return null;
          return st;
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
  return showLink ? { follow, showLink: (text) => showLink(below(text)) } : { follow };
}
