import type { AgentRootConfig } from '../config.js';

/** What a path is wanted for: writes need a writable root. */
export type PathIntent = 'read' | 'write';

/** A path mapped to its root lexically: syntax, root and write flag checked, nothing on disk consulted. */
export interface LexicalPath {
  apiPath: string;
  root: AgentRootConfig;
  /** Index of `root` in the configured roots (and in `rootDirs`). */
  rootIndex: number;
  /** Components below the root. */
  rel: readonly string[];
  isRoot: boolean;
  /** Roots configured below this path (by configured path). */
  nestedRoots: readonly AgentRootConfig[];
  /**
   * Whether a read may follow a link whose text leads to `target` (components below the same
   * root). Absent: any target inside the root. A guest collection narrows it to what lies in the
   * collection and what the guest may read there, so a link never widens a share.
   */
  linkGuard?: LinkGuard;
  /**
   * A guest collection's path: a walk for it must stay in this path's own root, so a root
   * nested inside the collection (reached by name, by a link, or by a mount) is not part of it.
   */
  confined?: boolean;
  /**
   * How a link's target is shown in ls and stat (`target`: components below the root, or null
   * when the text leads out of it). Absent: the link's own text. A guest sees targets spelled
   * inside the collection, never a host path.
   */
  showLink?: (target: readonly string[] | null) => string | null;
}

export type LinkGuard = (target: readonly string[]) => boolean;

