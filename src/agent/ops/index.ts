import { posix } from 'node:path';
import { FerryError } from '../../common/errors.js';
import { assertSchema } from '../../common/validate.js';
import type { FileDoc } from '../../protocol/file-doc.js';
import { MAX_LS_ENTRIES } from '../../protocol/limits.js';
import { FILE_OPS, type DeleteResult, type FileOpArgs, type FileOpName, type LsResult, type OpRequest } from '../../protocol/link.js';
import { toFerryError, type PathPolicy } from '../policy/index.js';
import { fileDocFor } from './file-doc.js';
import { listDirectory } from './list.js';
import { makeDirectory, renamePath } from './mutate.js';
import { deletePath } from './delete.js';
import { createOwnerNames, type OwnerNames } from './owners.js';

/**
 * File operations the agent runs for control (ls, stat, mkdir, rename). Every path goes
 * through the local PathPolicy first; ACL checks by principal happen before this layer.
 */

export interface FileOps {
  ls(args: FileOpArgs<'ls'>): Promise<LsResult>;
  stat(args: FileOpArgs<'stat'>): Promise<FileDoc>;
  mkdir(args: FileOpArgs<'mkdir'>): Promise<Record<string, never>>;
  rename(args: FileOpArgs<'rename'>): Promise<Record<string, never>>;
  delete(args: FileOpArgs<'delete'>): Promise<DeleteResult>;
}

export interface FileOpsInit {
  /** Most entries one ls returns before failing with SizeLimit (default MAX_LS_ENTRIES). */
  maxLsEntries?: number;
  /** lstat/stat calls in flight during one ls. */
  lsConcurrency?: number;
  owners?: OwnerNames;
}

export const DEFAULT_LS_CONCURRENCY = 32;

export function createFileOps(policy: PathPolicy, init: FileOpsInit = {}): FileOps {
  const maxEntries = init.maxLsEntries ?? MAX_LS_ENTRIES;
  const concurrency = init.lsConcurrency ?? DEFAULT_LS_CONCURRENCY;
  const owners = init.owners ?? createOwnerNames();

  return {
    async ls({ path, showHidden }) {
      const target = await policy.resolve(path, 'read');
      return listDirectory(target, { showHidden, maxEntries, concurrency }, { realRoot: target.realRoot, owners });
    },

    async stat({ path }) {
      const target = await policy.resolve(path, 'read');
      // A root is shown under its configured name, not under its real (symlink-resolved) one.
      const name = target.isRoot ? (posix.basename(posix.resolve(target.root.path)) || '/') : posix.basename(target.hostPath);
      try {
        return await fileDocFor(target.hostPath, name, { realRoot: target.realRoot, owners });
      } catch (err) {
        throw toFerryError(err, target.apiPath);
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
    case 'ls': return ops.ls(argsOf(request, 'ls'));
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

export { createOwnerNames, parseIdFile, DEFAULT_OWNER_REFRESH_MS } from './owners.js';
export type { OwnerNames, OwnerNamesInit } from './owners.js';
export { fileDocFor, formatLastModified, formatPermissions, fileTypeOf } from './file-doc.js';
export type { DocContext } from './file-doc.js';
