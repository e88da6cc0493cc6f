import Database from 'better-sqlite3';
import { FerryError } from '../../common/errors.js';
import { preparePrivateDbFile } from '../../common/private-files.js';

/**
 * Restart markers (issue 4): per partial file of a large destination file, which source
 * version it holds (size, mtime) and which byte ranges of it are durable. A later attempt of
 * the same task finds the partial under the same name, checks the recorded ranges against the
 * source's block checksums and asks only for the rest.
 *
 * Ranges are recorded only after the partial was fdatasync'ed past them, so a record never
 * claims bytes a crash could lose. Updates are merged in memory and written in one
 * transaction per flush (`flushIntervalMs` after the first update, by default the next turn
 * of the event loop, so a kill loses little; on checkpoint; on close), never one commit per
 * chunk: ranges arrive once per `flushBytes` of a file, finished files once per commit group. A partial's row is inserted at once when it is created, so even a partial that
 * never reached its first flush is known and can be cleaned up. Small files' partials have no
 * row (one write per file would cost more than the file), but the directory they are made in
 * is written before the first of them (writesIn), so cleanup searches it even when the agent
 * was killed before any file there was done.
 */

export interface PartialIdentity {
  taskId: string;
  partialPath: string;
  finalPath: string;
  /** The source version the bytes come from. */
  size: number;
  mtimeMs: number;
}

export interface PartialRecord extends PartialIdentity {
  ranges: Array<[number, number]>;
  updatedAt: number;
}

export interface RestartMarkers {
  lookup(partialPath: string): PartialRecord | null;
  /** The partial recorded for this task's file at `finalPath` (partial names are random), or null. */
  partialFor(taskId: string, finalPath: string): string | null;
  /** A partial file is about to be created or reused for this source version (written at once). */
  begin(id: PartialIdentity): void;
  /** These ranges of the partial are now durable. */
  durable(partialPath: string, ranges: ReadonlyArray<readonly [number, number]>): void;
  /** The partial is gone (committed, removed, or started over). */
  forget(partialPath: string): void;
  /** A file of this task is durable at its final path (a retried attempt need not send it again). */
  fileDone(taskId: string, finalPath: string, size: number, mtimeMs: number): void;
  /** Whether an earlier attempt of this task finished this file from this source version. */
  isFileDone(taskId: string, finalPath: string, size: number, mtimeMs: number): boolean;
  /** Whether any file of this task was recorded finished (cheap check before asking per file). */
  taskHasDoneFiles(taskId: string): boolean;
  /** Every partial recorded for a task. */
  ofTask(taskId: string): PartialRecord[];
  /** Drop every record of a task (its partials must be removed first). */
  forgetTask(taskId: string): void;
  /** Small files' partials of this task are about to be created in `hostDir` (written at once, once per directory). */
  writesIn(taskId: string, hostDir: string): void;
  /** Directories this task wrote into (of its recorded partials, finished files and writesIn). */
  taskDirectories(taskId: string): string[];
  /** Whether anything of this task is recorded here (an earlier attempt wrote on this agent). */
  knowsTask(taskId: string): boolean;
  /** Records not updated since `beforeMs` (epoch ms). */
  staleSince(beforeMs: number): PartialRecord[];
  /** Forget finished-file records older than `beforeMs` (tasks that ended while this agent was away). */
  pruneDone(beforeMs: number): void;
  /** Write what is pending now. */
  flush(): void;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS partials (
  partial_path TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  final_path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  ranges TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS partials_task ON partials(task_id);
CREATE TABLE IF NOT EXISTS done_files (
  task_id TEXT NOT NULL,
  final_path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  done_at INTEGER NOT NULL,
  PRIMARY KEY (task_id, final_path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS task_dirs (
  task_id TEXT NOT NULL,
  dir TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (task_id, dir)
) WITHOUT ROWID;
`;

interface Row {
  partial_path: string;
  task_id: string;
  final_path: string;
  size: number;
  mtime_ms: number;
  ranges: string;
  updated_at: number;
}

/** Merge `add` into sorted disjoint ranges. */
export function mergeRanges(into: ReadonlyArray<readonly [number, number]>, add: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const all = [...into, ...add].filter(([s, e]) => e > s).map(([s, e]) => [s, e] as [number, number]).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = out.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function parseRanges(text: string): Array<[number, number]> {
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v)) return [];
    const ok = v.filter((r): r is [number, number] => Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]) && r[0] >= 0 && r[1] > r[0]);
    return mergeRanges([], ok);
  } catch {
    // A damaged row only costs a re-send.
    return [];
  }
}

export class SqliteMarkerStore implements RestartMarkers {
  private readonly db: Database.Database;
  private readonly pending = new Map<string, Array<[number, number]>>();
  private pendingDone: Array<[string, string, number, number]> = [];
  /** Task and directory pairs written by writesIn (task id, NUL, directory): each is written once. */
  private readonly dirsWritten = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly stmts;

  constructor(file: string, private readonly flushIntervalMs = 0, private readonly now: () => number = Date.now) {
    try {
      preparePrivateDbFile(file);
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      // A lost marker only costs a re-send, never correctness: NORMAL is enough.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new FerryError('Store.MigrationFailed', `restart-marker database ${file} has schema ${version}, newer than this Ferry (${SCHEMA_VERSION})`);
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (err) {
      if (err instanceof FerryError) throw err;
      throw new FerryError('Store.Unavailable', `cannot open the restart-marker database ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.stmts = {
      get: this.db.prepare<[string], Row>('SELECT * FROM partials WHERE partial_path = ?'),
      byFinal: this.db.prepare<[string, string], Row>('SELECT * FROM partials WHERE task_id = ? AND final_path = ? ORDER BY updated_at DESC LIMIT 1'),
      upsert: this.db.prepare('INSERT INTO partials (partial_path, task_id, final_path, size, mtime_ms, ranges, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(partial_path) DO UPDATE SET task_id = excluded.task_id, final_path = excluded.final_path, size = excluded.size, mtime_ms = excluded.mtime_ms, ranges = excluded.ranges, updated_at = excluded.updated_at'),
      setRanges: this.db.prepare('UPDATE partials SET ranges = ?, updated_at = ? WHERE partial_path = ?'),
      del: this.db.prepare('DELETE FROM partials WHERE partial_path = ?'),
      ofTask: this.db.prepare<[string], Row>('SELECT * FROM partials WHERE task_id = ?'),
      stale: this.db.prepare<[number], Row>('SELECT * FROM partials WHERE updated_at < ?'),
      done: this.db.prepare('INSERT OR REPLACE INTO done_files (task_id, final_path, size, mtime_ms, done_at) VALUES (?, ?, ?, ?, ?)'),
      isDone: this.db.prepare<[string, string, number, number], { n: number }>('SELECT 1 AS n FROM done_files WHERE task_id = ? AND final_path = ? AND size = ? AND mtime_ms = ?'),
      doneOf: this.db.prepare<[string], { final_path: string }>('SELECT final_path FROM done_files WHERE task_id = ?'),
      anyDone: this.db.prepare<[string], { n: number }>('SELECT 1 AS n FROM done_files WHERE task_id = ? LIMIT 1'),
      delTaskPartials: this.db.prepare('DELETE FROM partials WHERE task_id = ?'),
      delTaskDone: this.db.prepare('DELETE FROM done_files WHERE task_id = ?'),
      delStaleDone: this.db.prepare('DELETE FROM done_files WHERE done_at < ?'),
      knows: this.db.prepare<[string, string, string], { n: number }>(`SELECT 1 AS n WHERE EXISTS (SELECT 1 FROM partials WHERE task_id = ?)
        OR EXISTS (SELECT 1 FROM done_files WHERE task_id = ?) OR EXISTS (SELECT 1 FROM task_dirs WHERE task_id = ?)`),
      addDir: this.db.prepare('INSERT OR IGNORE INTO task_dirs (task_id, dir, at) VALUES (?, ?, ?)'),
      dirsOf: this.db.prepare<[string], { dir: string }>('SELECT dir FROM task_dirs WHERE task_id = ?'),
      delTaskDirs: this.db.prepare('DELETE FROM task_dirs WHERE task_id = ?'),
      delStaleDirs: this.db.prepare('DELETE FROM task_dirs WHERE at < ?'),
    };
  }

  lookup(partialPath: string): PartialRecord | null {
    const row = this.stmts.get.get(partialPath);
    if (!row) return null;
    const rec = toRecord(row);
    const pending = this.pending.get(partialPath);
    if (pending) rec.ranges = mergeRanges(rec.ranges, pending);
    return rec;
  }

  /**
   * The partial an earlier attempt of `taskId` kept for `finalPath`: partial names carry a random
   * part (a local user cannot plant a link at a name they cannot predict), so a retry finds its
   * partial through this record, not by recomputing the name.
   */
  partialFor(taskId: string, finalPath: string): string | null {
    return this.stmts.byFinal.get(taskId, finalPath)?.partial_path ?? null;
  }

  begin(id: PartialIdentity): void {
    this.pending.delete(id.partialPath);
    this.stmts.upsert.run(id.partialPath, id.taskId, id.finalPath, id.size, id.mtimeMs, '[]', this.now());
  }

  durable(partialPath: string, ranges: ReadonlyArray<readonly [number, number]>): void {
    if (ranges.length === 0) return;
    this.pending.set(partialPath, mergeRanges(this.pending.get(partialPath) ?? [], ranges));
    this.schedule();
  }

  forget(partialPath: string): void {
    this.pending.delete(partialPath);
    this.stmts.del.run(partialPath);
  }

  fileDone(taskId: string, finalPath: string, size: number, mtimeMs: number): void {
    this.pendingDone.push([taskId, finalPath, size, mtimeMs]);
    this.schedule();
  }

  isFileDone(taskId: string, finalPath: string, size: number, mtimeMs: number): boolean {
    if (this.pendingDone.some(([t, p, s, m]) => t === taskId && p === finalPath && s === size && m === mtimeMs)) return true;
    return this.stmts.isDone.get(taskId, finalPath, size, mtimeMs) !== undefined;
  }

  /**
   * Written at once, not with the next flush: the partials come right after, and an agent killed
   * then must still find them (a marker lost costs a re-send, a directory lost a leaked partial).
   */
  writesIn(taskId: string, hostDir: string): void {
    const key = `${taskId}\0${hostDir}`;
    if (this.dirsWritten.has(key)) return;
    try {
      this.stmts.addDir.run(taskId, hostDir, this.now());
      this.dirsWritten.add(key);
    } catch {
      // The state file cannot be written (disk full under it): the transfer goes on; the next
      // file here tries again, and at worst a killed attempt's partials here are not found.
    }
  }

  knowsTask(taskId: string): boolean {
    this.flush();
    return this.stmts.knows.get(taskId, taskId, taskId) !== undefined;
  }

  taskDirectories(taskId: string): string[] {
    this.flush();
    const dirs = new Set<string>();
    const parent = (p: string) => p.slice(0, Math.max(1, p.lastIndexOf('/')));
    for (const r of this.stmts.ofTask.all(taskId)) dirs.add(parent(r.final_path));
    for (const r of this.stmts.doneOf.iterate(taskId)) dirs.add(parent(r.final_path));
    for (const r of this.stmts.dirsOf.iterate(taskId)) dirs.add(r.dir);
    return [...dirs];
  }

  taskHasDoneFiles(taskId: string): boolean {
    this.flush();
    return this.stmts.anyDone.get(taskId) !== undefined;
  }

  forgetTask(taskId: string): void {
    this.flush();
    this.db.transaction(() => {
      this.stmts.delTaskPartials.run(taskId);
      this.stmts.delTaskDone.run(taskId);
      this.stmts.delTaskDirs.run(taskId);
    })();
    for (const key of this.dirsWritten) if (key.startsWith(`${taskId}\0`)) this.dirsWritten.delete(key);
  }

  pruneDone(beforeMs: number): void {
    this.stmts.delStaleDone.run(beforeMs);
    this.stmts.delStaleDirs.run(beforeMs);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flushQuietly(), this.flushIntervalMs);
    this.timer.unref?.();
  }

  /** From the timer: a failed write (disk full under the state file) keeps the updates and tries again later; markers only save re-sends. */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch {
      if (this.timer) return;
      this.timer = setTimeout(() => this.flushQuietly(), 1000);
      this.timer.unref?.();
    }
  }

  ofTask(taskId: string): PartialRecord[] {
    this.flush();
    return this.stmts.ofTask.all(taskId).map(toRecord);
  }

  staleSince(beforeMs: number): PartialRecord[] {
    this.flush();
    return this.stmts.stale.all(beforeMs).map(toRecord);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0 && this.pendingDone.length === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    const done = this.pendingDone;
    this.pendingDone = [];
    const now = this.now();
    try {
      this.write(batch, done, now);
    } catch (err) {
      // Put them back for the next flush.
      for (const [path, ranges] of batch) this.pending.set(path, mergeRanges(this.pending.get(path) ?? [], ranges));
      this.pendingDone.push(...done);
      throw err;
    }
  }

  private write(batch: Array<[string, Array<[number, number]>]>, done: Array<[string, string, number, number]>, now: number): void {
    this.db.transaction(() => {
      for (const [task, path, size, mtime] of done) this.stmts.done.run(task, path, size, mtime, now);
      for (const [path, ranges] of batch) {
        const row = this.stmts.get.get(path);
        // No row: the partial was forgotten meanwhile (committed or removed).
        if (!row) continue;
        this.stmts.setRanges.run(JSON.stringify(mergeRanges(parseRanges(row.ranges), ranges)), now, path);
      }
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}

function toRecord(row: Row): PartialRecord {
  return {
    taskId: row.task_id, partialPath: row.partial_path, finalPath: row.final_path, size: row.size, mtimeMs: row.mtime_ms,
    ranges: parseRanges(row.ranges), updatedAt: row.updated_at,
  };
}
