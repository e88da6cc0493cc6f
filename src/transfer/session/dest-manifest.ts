import { basename, dirname } from 'node:path';
import { isFerryError } from '../../common/errors.js';
import type { RawStat } from '../../fs/index.js';
import type { ManifestEndFrame, ManifestEntry, ManifestFile, SkippableCode } from '../../protocol/data-frames.js';
import { Notifier, Semaphore } from '../util/waiters.js';
import type { SessionContext } from './context.js';
import { decide } from './decide.js';
import { DirectoryFinisher } from './dest-dirs.js';
import type { FileTable } from './dest-files.js';
import { errnoError, fsError, peerProtocolError, transferError } from '../errors.js';
import type { CheckedDirs } from './checked-dirs.js';
import { DirPlacer } from './dest-placer.js';
import { DestPolicy } from './dest-policy.js';
import { deleteExtras } from './extras.js';
import { compileFilterRules, type FilterMatcher } from './filters.js';
import { apiJoin, baseName, checkRelPath, hostJoin, parentOf, partialName } from './paths.js';
import type { ProgressClock } from './stats.js';

type Queued = ManifestEntry & { keep?: Set<string> };

export interface ManifestDeps {
  ctx: SessionContext;
  /** The session's placed directories (every one below is created and entered by descriptor). */
  dirs: CheckedDirs;
  clock: ProgressClock;
  files: FileTable;
  retire(i: number): void;
}

/**
 * The destination's half of the manifest. accept() checks each entry as it arrives, in the
 * control loop: consecutive indexes, the window, safe paths, and the walk order (item roots in
 * order; a directory's children, then its dirEnd, then its subdirectories depth first, kept
 * with the same stack the source uses). So every entry's parent is a directory this side has
 * already placed, and no announced path can lead through a symlink it did not check.
 * run() then places entries in order: directories are created (or replaced, with
 * delete_destination_extra), files are decided by sync level and handed to the file table,
 * each directory's extras are deleted at its dirEnd (sparing what the filter rules exclude).
 * Every entry is retired exactly once. Directories get their source mode and mtime at the end
 * (finishDirectories), once nothing more is written into them.
 */
export class ManifestProcessor {
  private next = 0;
  private item = -1;
  private listing: string | null = null;
  private readonly stack: string[] = [];
  private children: string[] = [];
  private names = new Set<string>();
  private outstanding = 0;
  private endFrame: ManifestEndFrame | null = null;
  private readonly queue: Queued[] = [];
  private readonly changed = new Notifier();
  private readonly decisions: Semaphore;
  private readonly sumWaiters = new Map<number, (checksum: string | null) => void>();
  private base = '';
  private readonly filters: FilterMatcher | null;
  private readonly dirs: DirectoryFinisher;
  private readonly policy: DestPolicy;
  private readonly placer: DirPlacer;

  constructor(private readonly deps: ManifestDeps) {
    this.decisions = new Semaphore(deps.ctx.tuning.decideConcurrency);
    this.filters = deps.ctx.spec.options.deleteDestinationExtra ? compileFilterRules(deps.ctx.spec.filterRules) : null;
    this.dirs = new DirectoryFinisher(deps.ctx.spec.options.preserveTimestamp, (host) => deps.dirs.open(host));
    this.policy = new DestPolicy(deps.ctx, deps.retire);
    this.placer = new DirPlacer(deps.ctx, deps.dirs, this.policy);
  }

  /** After every entry is retired (all files durable): directories' modes and mtimes, deepest first. */
  async finishDirectories(): Promise<void> {
    await this.dirs.finish(this.deps.ctx.guard.signal);
  }

  /** Total entries, once MANIFEST_END has arrived. */
  get total(): number | null {
    return this.endFrame ? this.endFrame.entries : null;
  }

  retired(): void {
    this.outstanding -= 1;
  }

  accept(entries: readonly ManifestEntry[]): void {
    const { spec, tuning } = this.deps.ctx;
    for (const e of entries) {
      if (this.endFrame) throw peerProtocolError('MANIFEST after MANIFEST_END');
      if (e.i !== this.next) throw peerProtocolError(`manifest entry ${e.i} out of sequence (expected ${this.next})`);
      this.next += 1;
      this.outstanding += 1;
      if (this.outstanding > tuning.manifestWindow) throw peerProtocolError('the source announced more entries than the window allows');
      if (e.item >= spec.items.length) throw peerProtocolError(`manifest entry ${e.i} names item ${e.item}, which does not exist`);
      checkRelPath(e.path);
      let keep: Set<string> | undefined;
      if (e.kind === 'dirEnd') {
        if (this.listing === null || e.item !== this.item || e.path !== this.listing) throw peerProtocolError(`dirEnd for ${JSON.stringify(e.path)} out of order`);
        keep = this.names;
        for (let k = this.children.length - 1; k >= 0; k--) this.stack.push(this.children[k]!);
        this.children = [];
        this.names = new Set();
        this.listing = this.stack.pop() ?? null;
      } else if (e.path === '') {
        if (this.listing !== null || e.item !== this.item + 1) throw peerProtocolError(`item ${e.item} announced out of order`);
        this.item = e.item;
        if (e.kind === 'dir') this.listing = '';
      } else {
        if (this.listing === null || e.item !== this.item || parentOf(e.path) !== this.listing) {
          throw peerProtocolError(`manifest entry ${JSON.stringify(e.path)} is not a child of the directory being listed`);
        }
        const name = baseName(e.path);
        if (this.names.has(name)) throw peerProtocolError(`manifest names ${JSON.stringify(e.path)} twice`);
        this.names.add(name);
        if (e.kind === 'dir') this.children.push(e.path);
      }
      this.queue.push(keep ? { ...e, keep } : e);
    }
    this.changed.notify();
  }

  end(frame: ManifestEndFrame): void {
    if (this.endFrame) throw peerProtocolError('second MANIFEST_END');
    if (frame.entries !== this.next || this.listing !== null || this.item !== this.deps.ctx.spec.items.length - 1) {
      throw peerProtocolError('MANIFEST_END before every item was announced');
    }
    this.endFrame = frame;
    this.deps.clock.stats.symlinks = frame.symlinks;
    this.changed.notify();
  }

  /** SUM from the source: true if a sync decision was waiting for it. */
  sum(i: number, checksum: string): boolean {
    return this.settleSum(i, checksum);
  }

  /** FILE_ERROR while a sync decision waited for the file's checksum: the source skipped it. */
  sourceFailed(i: number, _code: SkippableCode): boolean {
    return this.settleSum(i, null);
  }

  private settleSum(i: number, checksum: string | null): boolean {
    const waiter = this.sumWaiters.get(i);
    if (!waiter) return false;
    this.sumWaiters.delete(i);
    waiter(checksum);
    return true;
  }

  async run(): Promise<void> {
    const { guard, tuning } = this.deps.ctx;
    for (;;) {
      const e = this.queue.shift();
      if (!e) {
        if (this.endFrame) return;
        await this.changed.wait(guard.signal);
        continue;
      }
      if (e.kind === 'file' && e.path !== '') {
        // A run of sibling files is stat'ed in one round trip to an fs worker.
        const run: ManifestFile[] = [e];
        while (run.length < tuning.statBatch && this.queue[0]?.kind === 'file') run.push(this.queue.shift() as ManifestFile);
        await this.placeFiles(run);
      } else {
        await this.place(e);
      }
    }
  }

  private async placeFiles(all: ManifestFile[]): Promise<void> {
    const { ctx, clock, files } = this.deps;
    // Files of a refused directory are retired unwritten (its directory was never placed).
    const run = all.filter((e) => !this.policy.insideRefused(e));
    if (run.length === 0) return;
    const hosts = run.map((e) => hostJoin(this.base, e.path));
    // Siblings: one directory, opened and checked once for the run's lstats.
    const stats = await this.deps.dirs.withDir(dirname(hosts[0]!), (dir) => ctx.fs.lstatMany(run.map((e) => ({ dirFd: dir.fd, name: baseName(e.path) }))));
    for (let k = 0; k < run.length; k++) {
      const e = run[k]!;
      const st = stats[k]!;
      const api = apiJoin(ctx.spec.items[e.item]!.destinationPath, e.path);
      clock.stats.files += 1;
      if (this.policy.refuseWrite(e, api, false)) continue;
      if (st.errno !== undefined && st.errno !== 'ENOENT') throw fsError(errnoError(st.errno, st.message), 'destination', api);
      const dst = st.errno === undefined ? { kind: st.kind!, size: st.size!, mtimeMs: st.mtimeMs! } : null;
      // Restart markers: an earlier attempt of this task delivered it (and counted it then).
      if (files.alreadyDone(e, hosts[k]!, dst)) {
        this.deps.retire(e.i);
        continue;
      }
      const decision = dst?.kind === 'dir' ? 'conflict' : decide(ctx.spec.options.syncLevel, e, dst?.kind === 'file' ? dst : null);
      if (decision === 'copy') this.copy(e, hosts[k]!, api);
      else if (decision === 'skip') this.skip(e);
      else {
        // The slow cases (a directory in the way, checksums to compare) run on their own.
        await this.decisions.acquire(1, ctx.guard.signal);
        ctx.guard.spawn(async () => {
          try {
            await this.decideFile(e, hosts[k]!, api);
          } catch (err) {
            throw fsError(err, 'destination', api);
          } finally {
            this.decisions.release();
          }
        });
      }
    }
  }

  private async place(e: Queued): Promise<void> {
    const { ctx, clock } = this.deps;
    const item = ctx.spec.items[e.item]!;
    const api = apiJoin(item.destinationPath, e.path);
    try {
      if (e.path === '' && (e.kind === 'dir' || e.kind === 'file')) {
        // A root (or a guest collection's own directory) is never replaced by a file.
        if (e.kind === 'file' && ctx.resolver.lexical(item.destinationPath, 'write').isRoot) {
          throw transferError('Transfer.WrongType', `The destination of a file is a root directory: ${item.destinationPath}`, 'IS_A_DIRECTORY');
        }
        this.base = (await ctx.resolver.resolve(item.destinationPath, 'write')).hostPath;
        // A file item is written into its parent, made if missing, reached by a walk that follows no link.
        if (e.kind === 'file') this.placer.placeByPolicy(dirname(this.base), parentApi(item.destinationPath));
      }
      const host = hostJoin(this.base, e.path);
      if (e.kind === 'dir' && e.path !== '' && (this.policy.insideRefused(e) || this.policy.refuseWrite(e, api, true))) return;
      if (e.kind === 'dirEnd' && this.policy.isRefusedDir(e)) {
        this.deps.retire(e.i);
        return;
      }
      switch (e.kind) {
        case 'dir': {
          let prepared;
          try {
            prepared = await this.placer.prepareDir(host, e.path === '', api);
          } catch (err) {
            // A read-only root reached some other way (its identity): refused like a lexical one.
            if (e.path === '' || !isFerryError(err) || err.code !== 'Transfer.PermissionDenied') throw err;
            this.policy.refused(e, api, err.message, true);
            return;
          }
          this.dirs.note(host, api, e.mode, e.mtimeMs, prepared.mode, prepared.identity);
          clock.stats.directories += 1;
          this.deps.retire(e.i);
          return;
        }
        case 'dirEnd':
          if (ctx.spec.options.deleteDestinationExtra && e.skipped === null) {
            await this.deps.dirs.withDir(host, (dir) => deleteExtras(dir, e.keep!, ctx.guard.signal, {
              filters: this.filters,
              mayRemove: (name, st) => this.policy.mayRemove(apiJoin(api, name), st),
              refused: (name, reason) => this.policy.refusedExtra(e, name, reason),
              isRootDir: (d) => ctx.resolver.rootOfDir(d) !== null,
            }));
          }
          this.deps.retire(e.i);
          return;
        case 'error':
          this.deps.retire(e.i);
          return;
        case 'file':
          // Only an item's own file comes here; files inside a directory go through placeFiles.
          clock.stats.files += 1;
          await this.decisions.acquire(1, ctx.guard.signal);
          ctx.guard.spawn(async () => {
            try {
              await this.decideFile(e, host, api);
            } catch (err) {
              throw fsError(err, 'destination', api);
            } finally {
              this.decisions.release();
            }
          });
          return;
      }
    } catch (err) {
      throw fsError(err, 'destination', api);
    }
  }

  private async decideFile(e: ManifestFile, host: string, api: string): Promise<void> {
    const { ctx, clock, files } = this.deps;
    const isRoot = e.path === '';
    let dst: RawStat | null = await this.deps.dirs.withFile(host, (ref, dir) => dir.statOrNull(ref.name));
    if (dst?.kind === 'dir') {
      if (isRoot || !ctx.spec.options.deleteDestinationExtra) throw transferError('Transfer.WrongType', `Is a directory: ${api}`, 'IS_A_DIRECTORY');
      await this.placer.replaceDirectory(host, api, dst);
      dst = null;
    }
    // Restart markers, as in placeFiles (the lstat above tells whether the file is still there).
    if (files.alreadyDone(e, host, dst ? { kind: dst.kind === 'file' ? 'file' : 'other', size: dst.size } : null)) {
      this.deps.retire(e.i);
      return;
    }
    // A symlink or special file in the way is replaced by the rename, never written through.
    let decision = decide(ctx.spec.options.syncLevel, e, dst?.kind === 'file' ? dst : null);
    if (decision === 'checksum') {
      const source = new Promise<string | null>((resolve) => this.sumWaiters.set(e.i, resolve));
      files.requestSum(e.i);
      const ourSum = this.deps.dirs.withFile(host, (ref) => ctx.checksummer.file(ref, e.size, ctx.guard.signal));
      const [theirs, ours] = await Promise.all([source, ourSum]);
      clock.stats.bytesChecksummed += ours.bytes;
      if (theirs === null) {
        this.deps.retire(e.i);
        return;
      }
      decision = theirs === ours.checksum ? 'skip' : 'copy';
    }
    if (decision === 'skip') this.skip(e);
    else this.copy(e, host, api);
  }

  private skip(e: ManifestFile): void {
    this.deps.clock.stats.filesSkipped += 1;
    this.deps.retire(e.i);
  }

  private copy(e: ManifestFile, host: string, api: string): void {
    const { ctx, clock, files } = this.deps;
    clock.stats.bytesExpected += e.size;
    const item = ctx.spec.items[e.item]!;
    // A large file may have a partial from an earlier attempt (restart markers name it).
    const kept = e.size > ctx.tuning.smallFileThreshold ? ctx.markers?.partialFor(ctx.spec.taskId, host) ?? null : null;
    files.create({
      i: e.i, item: e.item, rel: e.path, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode,
      finalPath: host,
      partialPath: kept !== null && dirname(kept) === dirname(host) ? kept : `${dirname(host)}/${partialName(ctx.spec.taskId, basename(host))}`,
      sourceApi: apiJoin(item.sourcePath, e.path),
      destApi: api,
    });
  }
}

/** The API path of `api`'s parent ('/~/a/b' -> '/~/a'; '/~/x' -> '/~/'). */
function parentApi(api: string): string {
  const trimmed = api.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  const parent = at <= 0 ? '/' : trimmed.slice(0, at);
  return parent === '/~' ? '/~/' : parent;
}
