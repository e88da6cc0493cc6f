import { lstat, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import type { AgentRootConfig } from '../config.js';
import { FerryError } from '../../common/errors.js';
import { MAX_PATH_BYTES } from '../../protocol/limits.js';
import { formatApiPath, isSameOrInside, joinHost, parseApiPath } from './api-path.js';
import { errnoCode, isMissing, toFerryError } from './fs-errors.js';

/**
 * The agent's local path policy (DESIGN.md "Local policy beats control"): every path a
 * request names is mapped into one of the configured roots, or refused. Syntax is checked
 * first, then the root and its write flag, all before any file is touched; only then are
 * symlinks resolved, so that no link can lead a request outside its root.
 *
 * What remains is the usual check-then-use race: a local user who can write inside a root
 * could swap a checked directory for a symlink before the operation runs. Node offers no
 * openat()-style calls to close it; the daemon should not run as a more privileged user than
 * the people who can write into its roots.
 */

export type PathIntent = 'read' | 'write';

export interface ResolveOptions {
  /**
   * Whether the operation follows a symlink in the last component (default true): ls and stat
   * do, so a link leading outside the root is refused; rename, mkdir and delete act on the
   * link itself, so only its parent must lie inside.
   */
  followFinal?: boolean;
}

export interface ResolvedPath {
  /**
   * Host path to operate on: every component except the last is resolved to its real
   * location (for a root: the root's real path), the last is left as named so that lstat
   * still sees a symlink.
   */
  hostPath: string;
  /** Canonical API spelling ('/~/', '/~/a', '/data/x'). */
  apiPath: string;
  root: AgentRootConfig;
  isRoot: boolean;
  /** realpath() of the root; anything outside it is refused. */
  realRoot: string;
  /** Other roots lying strictly below this path (renaming or deleting it would move them). */
  nestedRoots: readonly AgentRootConfig[];
}

export interface PathPolicy {
  readonly roots: readonly AgentRootConfig[];
  /** Validate and map an API path to a host path; 'write' requires a writable root. */
  resolve(apiPath: string, intent: PathIntent, options?: ResolveOptions): Promise<ResolvedPath>;
}

interface PreparedRoot {
  readonly config: AgentRootConfig;
  /** Normalised absolute path, no trailing slash (except '/'). */
  readonly path: string;
  readonly components: readonly string[];
}

function notAllowed(apiPath: string, why?: string): FerryError {
  return new FerryError('EndpointPermissionDenied', `Path not allowed${why ? ` (${why})` : ''}: ${apiPath}`);
}

function startsWithComponents(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((c, i) => path[i] === c);
}

export function createPathPolicy(roots: readonly AgentRootConfig[]): PathPolicy {
  if (roots.length === 0) throw new FerryError('Config.Invalid', 'the agent needs at least one root');
  const prepared: PreparedRoot[] = roots.map((config) => {
    if (!config.path.startsWith('/') || config.path.includes('\0')) {
      throw new FerryError('Config.Invalid', `root path must be absolute: ${config.path}`);
    }
    const path = posix.resolve(config.path);
    return { config, path, components: path.split('/').filter((c) => c !== '') };
  });
  const home = prepared[0]!;

  /** The root holding these host components: the longest match, so nested roots win. */
  function rootFor(components: readonly string[]): PreparedRoot | undefined {
    let best: PreparedRoot | undefined;
    for (const r of prepared) {
      if (startsWithComponents(components, r.components) && (!best || r.components.length > best.components.length)) best = r;
    }
    return best;
  }

  async function realRootOf(root: PreparedRoot, apiPath: string): Promise<string> {
    try {
      return await realpath(root.path);
    } catch (err) {
      if (isMissing(err)) throw new FerryError('ClientError.NotFound', `The root holding this path does not exist on the host: ${apiPath}`);
      throw toFerryError(err, apiPath);
    }
  }

  /**
   * Real location of `realRoot` + `rel`, for a path that may not exist yet: realpath() of the
   * deepest existing prefix, plus the missing components. A dangling or looping symlink in
   * the path counts as missing here; the caller decides what that means.
   */
  async function locate(realRoot: string, rel: readonly string[], apiPath: string): Promise<{ real: string; missing: readonly string[] }> {
    for (let k = rel.length; k > 0; k--) {
      try {
        return { real: await realpath(joinHost(realRoot, rel.slice(0, k))), missing: rel.slice(k) };
      } catch (err) {
        if (!isMissing(err)) throw toFerryError(err, apiPath);
      }
    }
    return { real: realRoot, missing: rel };
  }

  async function resolve(apiPath: string, intent: PathIntent, options: ResolveOptions = {}): Promise<ResolvedPath> {
    const followFinal = options.followFinal ?? true;
    const parsed = parseApiPath(apiPath);
    const canonical = formatApiPath(parsed);

    let root: PreparedRoot;
    let rel: readonly string[];
    if (parsed.home) {
      root = home;
      rel = parsed.components;
    } else {
      const found = rootFor(parsed.components);
      if (!found) throw notAllowed(canonical);
      root = found;
      rel = parsed.components.slice(found.components.length);
    }
    const lexical = joinHost(root.path, rel);
    if (Buffer.byteLength(lexical, 'utf8') > MAX_PATH_BYTES) {
      throw new FerryError('ClientError.BadRequest.InvalidPath', `Invalid path: longer than ${MAX_PATH_BYTES} bytes on the host: ${canonical}`);
    }
    if (intent === 'write' && !root.config.writable) throw notAllowed(canonical, 'read-only root');

    const lexicalComponents = [...root.components, ...rel];
    const nestedRoots = prepared
      .filter((r) => r.components.length > lexicalComponents.length && startsWithComponents(r.components, lexicalComponents))
      .map((r) => r.config);

    // From here on the file system is consulted.
    const realRoot = await realRootOf(root, canonical);
    const base = { apiPath: canonical, root: root.config, realRoot, nestedRoots };
    if (rel.length === 0) return { ...base, hostPath: realRoot, isRoot: true };

    const name = rel[rel.length - 1]!;
    const parent = await locate(realRoot, rel.slice(0, -1), canonical);
    if (!isSameOrInside(parent.real, realRoot)) throw notAllowed(canonical, 'a symlink leads outside the root');

    if (parent.missing.length > 0) {
      // The parent does not exist; the operation will say NotFound. A dangling link as the
      // first missing component must not be followed later (mkdir -p through it would
      // create directories wherever it points), so refuse it here.
      await refuseIfSymlink(joinHost(parent.real, parent.missing.slice(0, 1)), canonical);
      return { ...base, hostPath: joinHost(parent.real, [...parent.missing, name]), isRoot: false };
    }

    const hostPath = joinHost(parent.real, [name]);
    if (followFinal) await checkFinalLink(hostPath, realRoot, intent, canonical);
    return { ...base, hostPath, isRoot: false };
  }

  return { roots, resolve };
}

async function refuseIfSymlink(hostPath: string, apiPath: string): Promise<void> {
  try {
    const st = await lstat(hostPath);
    if (st.isSymbolicLink()) throw new FerryError('ClientError.NotFound', `A dangling symlink is in the way: ${apiPath}`);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw toFerryError(err, apiPath);
  }
}

/**
 * When the last component is a symlink the operation will follow, its real target must lie
 * in the root. A dangling link is fine to read (stat reports 'invalid_symlink') but never to
 * write through: creating its target could put a file anywhere on the host.
 */
async function checkFinalLink(hostPath: string, realRoot: string, intent: PathIntent, apiPath: string): Promise<void> {
  let isLink: boolean;
  try {
    isLink = (await lstat(hostPath)).isSymbolicLink();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw toFerryError(err, apiPath);
  }
  if (!isLink) return;
  let real: string;
  try {
    real = await realpath(hostPath);
  } catch (err) {
    if (!isMissing(err)) throw toFerryError(err, apiPath);
    if (intent === 'write') throw notAllowed(apiPath, 'dangling symlink');
    return;
  }
  if (!isSameOrInside(real, realRoot)) throw notAllowed(apiPath, 'a symlink leads outside the root');
}
