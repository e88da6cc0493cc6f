import { posix } from 'node:path';
import type { AgentRootConfig } from '../config.js';
import { FerryError } from '../../common/errors.js';
import { MAX_PATH_BYTES } from '../../protocol/limits.js';
import { formatApiPath, isSameOrInside, joinHost, parseApiPath } from './api-path.js';
import { errnoCode } from './fs-errors.js';
import { Dir, RootDirs, rawFs } from '../../fs/index.js';
import { openDirForWrite, walkError } from './open-path.js';
import type { LexicalPath, PathIntent } from './path-types.js';

export type { LexicalPath, PathIntent } from './path-types.js';
import { inspectFinal, locate, realpathsOrNull, refuseIfSymlink } from './walk.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * The agent's local path policy (DESIGN.md "Local policy beats control"): every path a
 * request names is mapped into one of the configured roots, or refused. Syntax is checked
 * first, then the root and its write flag, all before any file is touched; only then are
 * symlinks resolved, so that no link can lead a request outside its root.
 *
 * resolve() consults the file system by path (realpath), which a local user can race; file
 * operations use lexical() and then walk by descriptor (open-path.ts), which cannot be raced.
 * The transfer engine still resolves its items by path and checks every path below them with
 * lexical() and rootOfDir().
 */

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
  /**
   * Other roots lying below this path (renaming or deleting it would carry them along): by
   * configured path, and for 'write' also by real path (then including a root whose real
   * directory is this very path).
   */
  nestedRoots: readonly AgentRootConfig[];
}

export interface PathPolicy {
  readonly roots: readonly AgentRootConfig[];
  /** The roots as directories pinned by identity: descriptor-relative access starts here. */
  readonly rootDirs: RootDirs;
  /** Syntax, root and its write flag, before any file is touched. */
  lexical(apiPath: string, intent: PathIntent): LexicalPath;
  /** The root whose directory this is (by device and inode; a read-only one if several), or null. */
  rootOfDir(dir: FileIdentity): AgentRootConfig | null;
  /** Open `apiPath` as a directory to write into, made with its parents if missing (openDirForWrite). */
  openWriteDir(apiPath: string, createMode: number): Dir;
  /**
   * Open a host directory recorded earlier (partial cleanup), or null: only if the directory it
   * opens really lies in a writable root (by the path the kernel reports for its descriptor),
   * so a recorded directory swapped for a link to elsewhere is left alone.
   */
  openWritableHostDir(hostDir: string): Dir | null;
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

  /**
   * Where the root really is: the path of its pinned directory (RootDirs), so a root replaced
   * by a link after the agent started is refused rather than followed to its new place.
   */
  async function realRootOf(root: PreparedRoot, apiPath: string): Promise<string> {
    let dir;
    try {
      dir = rootDirs.open(prepared.indexOf(root));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new FerryError('ClientError.NotFound', `The root holding this path does not exist on the host: ${apiPath}`);
      throw walkError(err, apiPath);
    }
    try {
      return dir.realPath();
    } finally {
      dir.close();
    }
  }


  /**
   * A write lands at real location `target`. The deepest root containing it *by real path*
   * decides whether that is allowed, so a symlink (or a '/~/' path) cannot reach a nested
   * read-only root through a writable one. Also returns the other roots whose directory is
   * `target` or lies below it: renaming or deleting it would carry them along.
   */
  async function checkWriteTarget(target: string, chosen: PreparedRoot, apiPath: string): Promise<AgentRootConfig[]> {
    const reals = await realpathsOrNull(prepared.map((r) => r.path));
    let deepest = -1;
    let readOnly = false;
    const below: AgentRootConfig[] = [];
    reals.forEach((real, i) => {
      if (real === null) return;
      const config = prepared[i]!.config;
      if (prepared[i] !== chosen && isSameOrInside(real, target)) below.push(config);
      if (!isSameOrInside(target, real)) return;
      if (real.length > deepest) {
        deepest = real.length;
        readOnly = !config.writable;
      } else if (real.length === deepest && !config.writable) {
        // Two roots configured on the same directory: read-only wins.
        readOnly = true;
      }
    });
    if (readOnly) throw notAllowed(apiPath, 'read-only root');
    return below;
  }

  function lexical(apiPath: string, intent: PathIntent): LexicalPath {
    const parsed = parseApiPath(apiPath);
    const canonical = formatApiPath(parsed);

    // '/~/...' is the default root's path spelled short; after expanding it, the longest
    // matching root decides, exactly as for an absolute path (a nested root keeps its flags).
    const lexicalComponents = parsed.home ? [...home.components, ...parsed.components] : parsed.components;
    const root = rootFor(lexicalComponents);
    if (!root) throw notAllowed(canonical);
    const rel = lexicalComponents.slice(root.components.length);
    if (Buffer.byteLength(joinHost('/', lexicalComponents), 'utf8') > MAX_PATH_BYTES) {
      throw new FerryError('ClientError.BadRequest.InvalidPath', `Invalid path: longer than ${MAX_PATH_BYTES} bytes on the host: ${canonical}`);
    }
    if (intent === 'write' && !root.config.writable) throw notAllowed(canonical, 'read-only root');
    const nestedRoots = prepared
      .filter((r) => r.components.length > lexicalComponents.length && startsWithComponents(r.components, lexicalComponents))
      .map((r) => r.config);
    return { apiPath: canonical, root: root.config, rootIndex: prepared.indexOf(root), rel, isRoot: rel.length === 0, nestedRoots };
  }

  async function resolve(apiPath: string, intent: PathIntent, options: ResolveOptions = {}): Promise<ResolvedPath> {
    const followFinal = options.followFinal ?? true;
    const lex = lexical(apiPath, intent);
    const canonical = lex.apiPath;
    const root = prepared[lex.rootIndex]!;
    const rel = lex.rel;
    const lexicalNested = lex.nestedRoots;

    // From here on the file system is consulted.
    const realRoot = await realRootOf(root, canonical);
    let hostPath = realRoot;
    let target = realRoot;
    if (rel.length > 0) {
      const name = rel[rel.length - 1]!;
      const parent = await locate(realRoot, rel.slice(0, -1), canonical);
      if (!isSameOrInside(parent.real, realRoot)) throw notAllowed(canonical, 'a symlink leads outside the root');
      if (parent.missing.length > 0) {
        await refuseIfSymlink(joinHost(parent.real, parent.missing.slice(0, 1)), canonical);
        hostPath = target = joinHost(parent.real, [...parent.missing, name]);
      } else {
        hostPath = target = joinHost(parent.real, [name]);
        if (followFinal) {
          const final = await inspectFinal(hostPath, canonical);
          if (final.kind === 'link') {
            if (!isSameOrInside(final.real, realRoot)) throw notAllowed(canonical, 'a symlink leads outside the root');
            target = final.real;
          } else if (final.kind === 'dangling' && intent === 'write') {
            // Reading a dangling link is fine (stat says 'invalid_symlink'); writing through it
            // would create its target, which could be anywhere on the host.
            throw notAllowed(canonical, 'dangling symlink');
          }
        }
      }
    }
    let nestedRoots = lexicalNested;
    if (intent === 'write') {
      const realNested = await checkWriteTarget(target, root, canonical);
      nestedRoots = [...new Set([...lexicalNested, ...realNested])];
    }
    return { hostPath, apiPath: canonical, root: root.config, isRoot: rel.length === 0, realRoot, nestedRoots };
  }

  const rootDirs = new RootDirs(prepared.map((r) => ({ path: r.path, writable: r.config.writable })));
  const rootOfDir = (dir: FileIdentity): AgentRootConfig | null => {
    const i = rootDirs.rootAt(dir);
    return i < 0 ? null : prepared[i]!.config;
  };
  const openWriteDir = (apiPath: string, createMode: number): Dir => openDirForWrite(rootDirs, lexical(apiPath, 'write'), createMode);
  const openWritableHostDir = (hostDir: string): Dir | null => {
    let dir: Dir;
    try {
      dir = Dir.adopt(rawFs.openRoot(hostDir));
    } catch {
      return null;
    }
    const real = dir.realPath();
    // The deepest root holding it decides (read-only wins a tie), as for any write.
    let depth = -1;
    let writable = false;
    prepared.forEach((r, i) => {
      const rootReal = rootDirs.realPath(i);
      if (rootReal === null || !isSameOrInside(real, rootReal)) return;
      if (rootReal.length > depth) {
        depth = rootReal.length;
        writable = r.config.writable;
      } else if (rootReal.length === depth && !r.config.writable) writable = false;
    });
    if (depth < 0 || !writable) {
      dir.close();
      return null;
    }
    return dir;
  };
  return { roots, rootDirs, lexical, rootOfDir, openWriteDir, openWritableHostDir, resolve };
}
