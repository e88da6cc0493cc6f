export { createPathPolicy } from './path-policy.js';
export type { PathIntent, PathPolicy, ResolveOptions, ResolvedPath } from './path-policy.js';
export { parseApiPath, formatApiPath, isSameOrInside, joinHost } from './api-path.js';
export type { ParsedApiPath } from './api-path.js';
export { toFerryError, errnoCode, isMissing } from './fs-errors.js';
export type { LexicalPath } from './path-policy.js';
export { openParent, openDirectory, openDirForWrite, refuseRootEntry, rootPathsOf, walkError } from './open-path.js';
export type { OpenedParent } from './open-path.js';
export { linkTargetBelowRoot } from './link-target.js';
