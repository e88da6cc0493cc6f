import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeRanges, SqliteMarkerStore } from '../../../src/transfer/markers/store.js';
import { removeLeftoverPartials, removeStalePartials, removeTaskPartials } from '../../../src/agent/transfer/partials.js';
import { blocksOf, planBlocks } from '../../../src/transfer/markers/block-sums.js';
import { Dir, rawFs } from '../../../src/fs/index.js';

/** A cleanup opener that accepts any directory (the policy's checks are tested with the agent). */
const openAny = (d: string): Dir | null => Dir.adopt(rawFs.openRoot(d));

const TASK = '6f1c1f0e-3d7a-4a53-9d0e-1d1f2a3b4c5d';
let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-markers-'));
  file = join(dir, 'state.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('restart-marker store', () => {
  it('merges ranges, batches them into one write, and survives a reopen', () => {
    expect(mergeRanges([[0, 10], [20, 30]], [[10, 15], [28, 40], [50, 60]])).toEqual([[0, 15], [20, 40], [50, 60]]);
    const store = new SqliteMarkerStore(file, 60_000);
    store.begin({ taskId: TASK, partialPath: '/d/.ferry-part.a', finalPath: '/d/a', size: 100, mtimeMs: 5 });
    store.durable('/d/.ferry-part.a', [[0, 10]]);
    store.durable('/d/.ferry-part.a', [[10, 20], [40, 50]]);
    // Pending updates are seen before they are written...
    expect(store.lookup('/d/.ferry-part.a')?.ranges).toEqual([[0, 20], [40, 50]]);
    // ...and not yet on disk (one transaction per flush, not per call).
    const peek = new Database(file, { readonly: true });
    expect((peek.prepare('SELECT ranges FROM partials').get() as { ranges: string }).ranges).toBe('[]');
    store.flush();
    expect((peek.prepare('SELECT ranges FROM partials').get() as { ranges: string }).ranges).toBe('[[0,20],[40,50]]');
    peek.close();
    store.close();
    const again = new SqliteMarkerStore(file);
    expect(again.lookup('/d/.ferry-part.a')).toMatchObject({ taskId: TASK, finalPath: '/d/a', size: 100, mtimeMs: 5, ranges: [[0, 20], [40, 50]] });
    again.close();
  });

  it('ignores a damaged ranges column instead of trusting it', () => {
    const store = new SqliteMarkerStore(file);
    store.begin({ taskId: TASK, partialPath: '/p', finalPath: '/f', size: 10, mtimeMs: 1 });
    store.close();
    const db = new Database(file);
    db.prepare('UPDATE partials SET ranges = ?').run('[[5,2],["x",3],[0,4]] junk');
    db.close();
    const again = new SqliteMarkerStore(file);
    expect(again.lookup('/p')?.ranges).toEqual([]);
    again.close();
  });

  it('remembers finished files per task and forgets a task with its partial files', async () => {
    const store = new SqliteMarkerStore(file);
    expect(store.taskHasDoneFiles(TASK)).toBe(false);
    store.fileDone(TASK, '/d/x', 10, 7);
    expect(store.isFileDone(TASK, '/d/x', 10, 7)).toBe(true);
    expect(store.isFileDone(TASK, '/d/x', 11, 7)).toBe(false);
    expect(store.taskHasDoneFiles(TASK)).toBe(true);
    const partial = join(dir, '.ferry-part.6f1c1f0e.big');
    writeFileSync(partial, 'partial bytes');
    store.begin({ taskId: TASK, partialPath: partial, finalPath: join(dir, 'big'), size: 100, mtimeMs: 1 });
    // A small file's partial has no record; it is found by its task prefix in a directory the task wrote to.
    mkdirSync(join(dir, 'sub'));
    store.fileDone(TASK, join(dir, 'sub', 'done.txt'), 3, 1);
    const orphan = join(dir, 'sub', '.ferry-part.6f1c1f0e.small.txt');
    const otherTask = join(dir, 'sub', '.ferry-part.00000000.small.txt');
    writeFileSync(orphan, 'o');
    writeFileSync(otherTask, 'p');
    expect(await removeTaskPartials(store, TASK, openAny)).toBe(2);
    expect(existsSync(partial)).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(otherTask)).toBe(true);
    expect(store.ofTask(TASK)).toEqual([]);
    expect(store.taskHasDoneFiles(TASK)).toBe(false);
    store.close();
  });

  it('after a successful destination session, removes what earlier attempts left but keeps the finished files', async () => {
    const store = new SqliteMarkerStore(file);
    mkdirSync(join(dir, 'small'));
    store.fileDone(TASK, join(dir, 'small', 's-1.txt'), 3, 1);
    // A commit group killed mid-way: its small files' partials, with no record.
    const orphans = [1, 2, 3].map((k) => join(dir, 'small', `.ferry-part.6f1c1f0e.a1b2c3d4e5f${k}.s-${k}.txt`));
    for (const o of orphans) writeFileSync(o, 'o');
    const otherTask = join(dir, 'small', '.ferry-part.00000000.a1b2c3d4e5f6.s-1.txt');
    writeFileSync(otherTask, 'p');
    const stale = join(dir, '.ferry-part.6f1c1f0e.a1b2c3d4e5f6.big');
    writeFileSync(stale, 'partial bytes');
    store.begin({ taskId: TASK, partialPath: stale, finalPath: join(dir, 'big'), size: 100, mtimeMs: 1 });
    expect(await removeLeftoverPartials(store, TASK, openAny)).toBe(4);
    for (const p of [...orphans, stale]) expect(existsSync(p)).toBe(false);
    expect(existsSync(otherTask)).toBe(true);
    expect(store.ofTask(TASK)).toEqual([]);
    // A retry after all (the source failed after the end) still skips what is done.
    expect(store.isFileDone(TASK, join(dir, 'small', 's-1.txt'), 3, 1)).toBe(true);
    store.close();
  });

  it('finds the partials of a commit group killed before any file of its directory was done', async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    const store = new SqliteMarkerStore(file);
    expect(store.knowsTask(TASK)).toBe(false);
    store.writesIn(TASK, small);
    store.writesIn(TASK, small);
    expect(store.knowsTask(TASK)).toBe(true);
    const orphan = join(small, '.ferry-part.6f1c1f0e.a1b2c3d4e5f6.s-1.txt');
    writeFileSync(orphan, 'o');
    // Written at once: an agent killed now (the store not closed, nothing flushed) still knows the directory.
    const after = new SqliteMarkerStore(file);
    expect(after.taskDirectories(TASK)).toEqual([small]);
    expect(await removeTaskPartials(after, TASK, openAny)).toBe(1);
    expect(existsSync(orphan)).toBe(false);
    expect(after.taskDirectories(TASK)).toEqual([]);
    expect(after.knowsTask(TASK)).toBe(false);
    after.close();
    store.close();
  });

  it('removes nothing in a recorded directory that no longer lies in a writable root', async () => {
    const store = new SqliteMarkerStore(file, 0);
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    const planted = join(victim, '.ferry-part.6f1c1f0e.x');
    writeFileSync(planted, 'not ours');
    store.begin({ taskId: TASK, partialPath: planted, finalPath: join(victim, 'x'), size: 1, mtimeMs: 1 });
    // The agent's policy refuses the directory (swapped for a link out of the roots, say).
    expect(await removeTaskPartials(store, TASK, () => null)).toBe(0);
    expect(existsSync(planted)).toBe(true);
    store.close();
  });

  it('removes partials of tasks that never came back after the retention time', async () => {
    let now = 1_000_000;
    const store = new SqliteMarkerStore(file, 0, () => now);
    const old = join(dir, '.ferry-part.old');
    const fresh = join(dir, '.ferry-part.fresh');
    writeFileSync(old, 'x');
    writeFileSync(fresh, 'y');
    store.begin({ taskId: TASK, partialPath: old, finalPath: join(dir, 'old'), size: 1, mtimeMs: 1 });
    now += 20 * 86_400_000;
    store.begin({ taskId: TASK, partialPath: fresh, finalPath: join(dir, 'fresh'), size: 1, mtimeMs: 1 });
    expect(await removeStalePartials(store, 14, openAny, now)).toBe(1);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(store.lookup(fresh)).not.toBeNull();
    store.close();
  });
});

describe('resume block plan', () => {
  it('keeps the checked blocks within one frame and cuts each range the same way on both sides', () => {
    const plan = planBlocks([[0, 10 * 1024 ** 3], [20 * 1024 ** 3, 20 * 1024 ** 3 + 5000]]);
    expect(plan.block % 4096).toBe(0);
    const blocks = blocksOf(plan.ranges, plan.block);
    expect(blocks.length).toBeLessThanOrEqual(4096);
    expect(blocks.reduce((n, b) => n + b.length, 0)).toBe(10 * 1024 ** 3 + 5000);
    expect(blocks.at(-1)).toEqual({ offset: 20 * 1024 ** 3, length: 5000 });
  });
});
