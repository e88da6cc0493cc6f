import { FerryError } from '../../common/errors.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES } from '../../protocol/limits.js';
import type { RootInfo } from '../../protocol/index.js';

/**
 * Paths of sharing, checked lexically by control before anything is stored. The agent checks
 * them again against its own config and the disk (DESIGN.md "Local policy beats control");
 * these checks only keep control from recording what no agent would accept.
 */

function invalid(what: string, reason: string): FerryError {
  return new FerryError('ClientError.BadRequest.InvalidPath', `Invalid ${what}: ${reason}`);
}

/**
 * Longest access-rule path: a rule travels to the agent in every snapshot of its host, up to
 * 1000 rules a collection, so its size is bounded well below a host path's.
 */
export const MAX_RULE_PATH_BYTES = 1024;

function basicChecks(path: string, what: string, maxBytes = MAX_PATH_BYTES): void {
  if (path.length === 0) throw invalid(what, 'empty');
  if (path.includes('\0')) throw invalid(what, 'contains a NUL byte');
  // Control characters would reach logs, e-mails and terminals (ferry acl list) verbatim.
  if (/[\u0001-\u001f\u007f]/.test(path)) throw invalid(what, 'contains a control character');
  if (/\p{Cs}/u.test(path)) throw invalid(what, 'not well-formed Unicode');
  if (Buffer.byteLength(path, 'utf8') > maxBytes) throw invalid(what, `longer than ${maxBytes} bytes`);
  if (!path.startsWith('/')) throw invalid(what, "must start with '/'");
  if (path.split('/').some((c) => Buffer.byteLength(c, 'utf8') > MAX_NAME_BYTES)) throw invalid(what, `a component is longer than ${MAX_NAME_BYTES} bytes`);
}

/** A parsed host path: `home` when it starts with '/~/' (the agent's first root). */
export interface HostPath { home: boolean; components: string[] }

/**
 * Normalise a guest collection's host_path: `.` dropped, `..` applied, but never above where
 * the path starts ('/' or '/~/'), which is refused. Returns the canonical spelling ending in '/'.
 */
export function normaliseHostPath(path: string): { canonical: string; parsed: HostPath } {
  basicChecks(path, 'host_path');
  const raw = path.split('/').filter((c) => c !== '');
  const home = raw[0] === '~';
  const out: string[] = [];
  for (const c of home ? raw.slice(1) : raw) {
    if (c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw invalid('host_path', "a '..' component climbs above its start");
      out.pop();
      continue;
    }
    if (c === '~') throw invalid('host_path', "'~' is only allowed as the first component");
    out.push(c);
  }
  const canonical = `${home ? '/~/' : '/'}${out.map((c) => `${c}/`).join('')}`;
  return { canonical, parsed: { home, components: out } };
}

const components = (p: string): string[] => p.split('/').filter((c) => c !== '' && c !== '.');

/**
 * The root of an agent's hello that holds `hostPath` (the longest match by whole components,
 * as the agent maps paths), or undefined when none does. '/~/' is the first root.
 */
export function rootOf(hostPath: HostPath, roots: readonly RootInfo[]): RootInfo | undefined {
  if (roots.length === 0) return undefined;
  const full = hostPath.home ? [...components(roots[0]!.path), ...hostPath.components] : hostPath.components;
  let best: { root: RootInfo; depth: number } | undefined;
  for (const root of roots) {
    const rc = components(root.path);
    if (rc.length > full.length || !rc.every((c, i) => full[i] === c)) continue;
    if (!best || rc.length > best.depth) best = { root, depth: rc.length };
  }
  return best?.root;
}

/** Whether `hostPath` (canonical, from the store) lies under a root the agent marks shareable. */
export function isShareable(hostPath: string, roots: readonly RootInfo[]): boolean {
  try {
    return rootOf(normaliseHostPath(hostPath).parsed, roots)?.sharing === true;
  } catch {
    return false;
  }
}

/**
 * Normalise an access rule's path (relative to the collection's root): absolute, no `.` or
 * `..` components, no NUL; repeated slashes collapse and it ends in '/' (directory rules).
 */
export function normaliseRulePath(path: string): string {
  basicChecks(path, 'path', MAX_RULE_PATH_BYTES);
  const parts = path.split('/').filter((c) => c !== '');
  for (const c of parts) {
    if (c === '.' || c === '..') throw invalid('path', `contains a '${c}' component`);
  }
  return `/${parts.map((c) => `${c}/`).join('')}`;
}
