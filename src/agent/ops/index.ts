import { posix } from 'node:path';
import { FerryError } from '../../common/errors.js';
import { assertSchema } from '../../common/validate.js';
import type { FileDoc } from '../../protocol/file-doc.js';
import { MAX_LS_ENTRIES } from '../../protocol/limits.js';
import { FILE_OPS, type DeleteResult, type FileOpArgs, type FileOpName, type LsResult, type OpRequest } from '../../protocol/link.js';
import { linkTargetBelowRoot, openDirectory, openParent, rootPathsOf, walkError, type LexicalPath, type PathPolicy } from '../policy/index.js';
import { fileDocFor, fileDocOfDir } from './file-doc.js';
import { followWithin } from './follow.js';
import { listDirectory } from './list.js';
import { makeDirectory, renamePath } from './mutate.js';
import { deletePath } from './delete.js';
import { createOwnerNames, type OwnerNames } from './owners.js';
import type { LsEntryBudget } from './ls-budget.js';

/**
 * File operations the agent runs for control (ls, stat, mkdir, rename). Every path goes
 * through the local PathPolicy first; ACL checks by principal happen before this layer.
 */

export interface FileOps {
  /** `who`: the caller's identity (the key of the ls entry budget); omitted: not budgeted (tests). */
  ls(args: FileOpArgs<'ls'>, who?: string): Promise<LsResult>;
  stat(args: FileOpArgs<'stat'>): Promise<FileDoc>;
  mkdir(args: FileOpArgs<'mkdir'>): Promise<Record<string, never>>;
  rename(args: FileOpArgs<'rename'>): Promise<Record<string, never>>;
  delete(args: FileOpArgs<'delete'>): Promise<DeleteResult>;
}

export interface FileOpsInit {
  /** Most entries one ls returns before failing with SizeLimit (default MAX_LS_ENTRIES). */
  maxLsEntries?: number;
  /** Entries one ls describes between two turns of the event loop. */
  lsBatch?: number;
  owners?: OwnerNames;
  /** Entries each identity's listings may hold at once (shared by every FileOps of the agent); absent: no budget. */
  lsBudget?: LsEntryBudget;
}

export const DEFAULT_LS_BATCH = 256;

export function createFileOps(policy: PathPolicy, init: FileOpsInit = {}): FileOps {
  const maxEntries = init.maxLsEntries ?? MAX_LS_ENTRIES;
  const batch = init.lsBatch ?? DEFAULT_LS_BATCH;
  const owners = init.owners ?? createOwnerNames();

  return {
    async ls({ path, showHidden }, who) {
      const target = policy.lexical(path, 'read');
      let opened;
      try {
        opened = openDirectory(policy.rootDirs, target, 'read');
      } catch (err) {
        // The path itself not being a directory has its own code; a file on the way does not.
        if (err instanceof FerryError && err.code === 'ExternalError.NotDirectory' && target.rel.length > 0) {
          openParent(policy.rootDirs, target, 'read').dir.close();
          throw new FerryError('ExternalError.DirListingFailed.NotDirectory', `Not a directory: ${target.apiPath}`);
        }
        throw err;
      }
      try {
        const ctx = { owners, ...followWithin(policy, target, target.rel) };
        const budget = init.lsBudget;
        const reserve = budget && who !== undefined ? (n: number) => budget.reserve(who, n) : undefined;
        return await listDirectory(opened.dir, target.apiPath, { showHidden, maxEntries, batch, ...(reserve ? { reserve } : {}) }, ctx);
      } finally {
        opened.dir.close();
      }
    },

    async stat({ path }) {
      const target = policy.lexical(path, 'read');
      const { dir, name } = openParent(policy.rootDirs, target, 'read');
      try {
        const ctx = { owners, ...followWithin(policy, target, target.rel.slice(0, -1)) };
        // A root is shown under its configured name, not under its real (symlink-resolved) one.
        if (name === null) return await fileDocOfDir(dir, posix.basename(posix.resolve(target.root.path)) || '/', ctx);
        const doc = await fileDocFor(dir, name, name, ctx);
        // stat names this very link: one leading out of the root (or, for a guest, out of what
        // she may read) is refused, as ls through it is.
        if (doc.type === 'invalid_symlink' && dir.stat(name).kind === 'symlink' && linkLeavesRoot(policy, target, dir.readlink(name))) {
          throw new FerryError('EndpointPermissionDenied', `Path not allowed (a symlink leads outside the root): ${target.apiPath}`);
        }
        return doc;
      } catch (err) {
        throw walkError(err, target.apiPath);
      } finally {
        dir.close();
      }
    },

    async mkdir({ path }) {
      await makeDirectory(policy, path);
      return {};
    },

    async rename({ oldPath, newPath }) {
      await renamePath(policy, oldPath, newPath);
      return {};
    },

    delete(args) {
      return deletePath(policy, args);
    },
  };
}

function linkLeavesRoot(policy: PathPolicy, target: LexicalPath, text: string): boolean {
  const components = linkTargetBelowRoot(text, target.rel.slice(0, -1), rootPathsOf(policy.rootDirs, target.rootIndex));
  return components === null || (target.linkGuard !== undefined && !target.linkGuard(components));
}

/**
 * The arguments of `request` as op `op` takes them. OpRequest's derived type does not tie
 * `args` to `op` (each member's args is the union of all ops' args), so check against the
 * op's own schema rather than cast: cheap, and a mismatch cannot slip through.
 */
function argsOf<K extends FileOpName>(request: OpRequest, op: K): FileOpArgs<K> {
  return assertSchema(FILE_OPS[op].args, request.args, 'Link.BadMessage', `${op} arguments`) as FileOpArgs<K>;
}

/** Dispatch a validated OpRequest to the right op. */
export function runFileOp(ops: FileOps, request: OpRequest): Promise<unknown> {
  try {
    return dispatch(ops, request);
  } catch (err) {
    return Promise.reject(err);
  }
}

function dispatch(ops: FileOps, request: OpRequest): Promise<unknown> {
  switch (request.op) {
    // Guests without an identity (anonymous access) share one budget.
    case 'ls': return ops.ls(argsOf(request, 'ls'), request.principals.identityId ?? 'anonymous');
    case 'stat': return ops.stat(argsOf(request, 'stat'));
    case 'mkdir': return ops.mkdir(argsOf(request, 'mkdir'));
    case 'rename': return ops.rename(argsOf(request, 'rename'));
    case 'delete': return ops.delete(argsOf(request, 'delete'));
    default: {
      const unknownOp: never = request;
      return Promise.reject(new FerryError('Link.BadMessage', `Unknown file operation: ${String((unknownOp as { op?: unknown }).op)}`));
    }
  }
}

export { LsEntryBudget, LS_BUDGET_RETRY_AFTER_SECONDS } from './ls-budget.js';
export { createOwnerNames, parseIdFile, DEFAULT_OWNER_REFRESH_MS } from './owners.js';
export type { OwnerNames, OwnerNamesInit } from './owners.js';
export { fileDocFor, fileDocOfDir, formatLastModified, formatPermissions, fileTypeOf } from './file-doc.js';
export type { DocContext } from './file-doc.js';
