import { FerryError } from '../../common/errors.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES } from '../../protocol/limits.js';

/**
 * Syntax of API paths, checked before any file is touched. Paths look like those of a Globus
 * Connect Personal endpoint: absolute host paths, or `/~/...` for the default root.
 */

export interface ParsedApiPath {
  /** True when the path starts with the `~` component (the default root). */
  readonly home: boolean;
  /** Non-empty components after `/~` (home) or after `/` (absolute host path). */
  readonly components: readonly string[];
}

function invalid(reason: string): FerryError {
  return new FerryError('ClientError.BadRequest.InvalidPath', `Invalid path: ${reason}`);
}

/**
 * Split `apiPath` into components, refusing what could escape or confuse: empty, relative,
 * NUL bytes, `.` and `..` components (refused rather than normalised, so no string trickery
 * can climb out of a root), and anything longer than the kernel would accept. Repeated and
 * trailing slashes are harmless and ignored.
 */
export function parseApiPath(apiPath: unknown): ParsedApiPath {
  if (typeof apiPath !== 'string' || apiPath.length === 0) throw invalid('empty');
  if (apiPath.includes('\0')) throw invalid('contains a NUL byte');
  // A lone surrogate would reach the disk as U+FFFD, so two distinct paths could name one file.
  if (/\p{Cs}/u.test(apiPath)) throw invalid('not well-formed Unicode (a lone surrogate)');
  if (Buffer.byteLength(apiPath, 'utf8') > MAX_PATH_BYTES) throw invalid(`longer than ${MAX_PATH_BYTES} bytes`);
  if (!apiPath.startsWith('/')) throw invalid('not absolute (must start with "/" or "/~/")');
  const parts = apiPath.split('/').filter((c) => c !== '');
  for (const part of parts) {
    if (part === '..') throw invalid("contains a '..' component");
    if (part === '.') throw invalid("contains a '.' component");
    if (Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES) throw invalid(`a component is longer than ${MAX_NAME_BYTES} bytes`);
  }
  const home = parts[0] === '~';
  return { home, components: home ? parts.slice(1) : parts };
}

/** The canonical API spelling of a parsed path: '/~/', '/~/a/b', '/', '/data/x'. */
export function formatApiPath(parsed: ParsedApiPath): string {
  const tail = parsed.components.join('/');
  return parsed.home ? `/~/${tail}` : `/${tail}`;
}

/** `p` equals `dir` or lies below it (both absolute, normalised, no trailing slash except '/'). */
export function isSameOrInside(p: string, dir: string): boolean {
  if (p === dir) return true;
  return p.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** Join an absolute directory and plain components without normalising anything away. */
export function joinHost(dir: string, components: readonly string[]): string {
  if (components.length === 0) return dir;
  return `${dir === '/' ? '' : dir}/${components.join('/')}`;
}
