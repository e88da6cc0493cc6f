import type { ManifestEntry } from '../../protocol/data-frames.js';
import type { SessionContext } from './context.js';
import { transferError } from '../errors.js';
import { sessionEvent } from './events.js';
import { apiJoin, joinRel, parentOf } from './paths.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * The agent's policy applied to every destination path below an item (not only the item's
 * own): a path in a read-only root, nested or reached by another spelling, is never written,
 * and a root or a directory holding one is never removed. A refusal fails the session with
 * PERMISSION_DENIED, or under skip_source_errors skips the path (a directory with everything
 * below it) and lists it in the task's skipped_errors: never a success with data silently
 * dropped.
 */
export class DestPolicy {
  constructor(private readonly ctx: SessionContext, private readonly retire: (i: number) => void) {}

  /** The dirEnd of a refused directory (retired with nothing to delete). */
  isRefusedDir(e: ManifestEntry): boolean {
    return this.refusedDirs.has(dirKey(e.item, e.path));
  }

  /** Directories (by item and path) refused under skip_source_errors: everything below them is skipped too. */
  private readonly refusedDirs = new Set<string>();

  /** Whether `e` lies in a refused directory (then it is retired unwritten, counted once with its directory). */
  insideRefused(e: ManifestEntry): boolean {
    const parent = dirKey(e.item, parentOf(e.path));
    if (!this.refusedDirs.has(parent)) return false;
    if (e.kind === 'dir') this.refusedDirs.add(dirKey(e.item, e.path));
    this.retire(e.i);
    return true;
  }

  /**
   * The agent's policy for one destination path below an item: a write into a read-only root
   * (nested in the item's root or not) is refused (see refused). True when it was.
   */
  refuseWrite(e: ManifestEntry, api: string, isDirectory: boolean): boolean {
    try {
      this.ctx.resolver.lexical(api, 'write');
      return false;
    } catch (err) {
      this.refused(e, api, err instanceof Error ? err.message : String(err), isDirectory);
      return true;
    }
  }

  /**
   * A destination path the policy refuses: without skip_source_errors the session fails with
   * PERMISSION_DENIED; with it, the path (a directory with everything below it) is skipped and
   * listed in the task's skipped_errors. Never a success with data silently dropped.
   */
  refused(e: ManifestEntry, api: string, message: string, isDirectory: boolean): void {
    const { ctx } = this;
    if (!ctx.spec.options.skipSourceErrors) throw transferError('Transfer.PermissionDenied', message, 'PERMISSION_DENIED');
    const item = ctx.spec.items[e.item]!;
    ctx.reporter.event(sessionEvent('PERMISSION_DENIED', {
      source_path: apiJoin(item.sourcePath, e.path), destination_path: api, is_directory: isDirectory, skipped: true, message,
    }));
    if (isDirectory) this.refusedDirs.add(dirKey(e.item, e.path));
    this.retire(e.i);
  }

  /** A directory the session would write into must not be a read-only root's (however it was reached). */
  checkDirIdentity(st: FileIdentity, api: string): void {
    const root = this.ctx.resolver.rootOfDir(st);
    if (root && !root.writable) throw transferError('Transfer.PermissionDenied', `Path not allowed (read-only root): ${api}`, 'PERMISSION_DENIED');
  }

  /** delete_destination_extra may remove `api` only if it is not a root, does not hold one, and lies in a writable root. */
  mayRemove(api: string, st: { dev: bigint; ino: bigint; kind: string }): string | null {
    try {
      const lex = this.ctx.resolver.lexical(api, 'write');
      if (lex.isRoot || lex.nestedRoots.length > 0) return 'it is, or holds, one of the endpoint\'s roots';
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    if (st.kind === 'dir' && this.ctx.resolver.rootOfDir(st)) return 'it is one of the endpoint\'s roots';
    return null;
  }

  /**
   * An extra the policy keeps (a root, or in a read-only root): the task fails with
   * PERMISSION_DENIED, or under skip_source_errors lists it in skipped_errors and goes on.
   */
  refusedExtra(e: ManifestEntry, name: string, reason: string): void {
    const { ctx } = this;
    const item = ctx.spec.items[e.item]!;
    const rel = joinRel(e.path, name);
    const api = apiJoin(item.destinationPath, rel);
    const message = `not deleted by delete_destination_extra: ${reason}`;
    if (!ctx.spec.options.skipSourceErrors) throw transferError('Transfer.PermissionDenied', `${message}: ${api}`, 'PERMISSION_DENIED');
    // skipped_errors lists paths by source path: the one this extra corresponds to.
    ctx.reporter.event(sessionEvent('PERMISSION_DENIED', { source_path: apiJoin(item.sourcePath, rel), destination_path: api, is_directory: true, skipped: true, message }));
  }
}

/** Key of a directory of an item in the refused set. */
function dirKey(item: number, path: string): string {
  return `${item}/${path}`;
}
