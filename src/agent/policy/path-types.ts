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
}

