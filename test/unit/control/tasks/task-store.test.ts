import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, schemaVersion } from '../../../../src/control/store/db.js';
import { MIGRATIONS } from '../../../../src/control/store/migrations.js';
import { ControlStore } from '../../../../src/control/store/index.js';
import { tempDir } from '../../../helpers/cluster.js';
import { world, type World } from './fixtures.js';

describe('task store', () => {
  let w: World;
  afterEach(() => w?.cleanup());

  it('migrates a version-1 database to version 2 and keeps its rows', () => {
    const d = tempDir();
    try {
      const file = join(d.path, 'c.db');
      openDatabase(file, MIGRATIONS.filter((m) => m.version === 1)).close();
      const raw = new Database(file);
      raw.prepare("INSERT INTO identities (id, username, created_at) VALUES ('11111111-1111-4111-8111-111111111111', 'old@x', 1)").run();
      expect(raw.pragma('user_version', { simple: true })).toBe(1);
      raw.close();
      const store = ControlStore.open(file);
      expect(schemaVersion(store.db)).toBe(MIGRATIONS.at(-1)!.version);
      const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(['tasks', 'task_events', 'successful_transfers', 'submission_ids']));
      expect(store.identities.byUsername('old@x')).toBeDefined();
      store.close();
    } finally {
      d.cleanup();
    }
  });

  it('creates one task per owner and submission id; another owner may reuse the id', () => {
    w = world();
    const first = w.transfer({ submissionId: 'same' });
    const again = w.store.tasks.submit({ ...first, submissionId: 'same', label: 'other' } as never);
    expect(again).toMatchObject({ duplicate: true, record: { id: first.id, label: null } });
    const other = w.store.identities.create({ username: 'other@x' }).id;
    const theirs = w.store.tasks.submit({ ...first, ownerId: other, submissionId: 'same' } as never);
    expect(theirs.duplicate).toBe(false);
    expect(theirs.record.id).not.toBe(first.id);
    expect(w.store.db.prepare('SELECT COUNT(*) AS n FROM tasks').get()).toEqual({ n: 2 });
    expect(w.store.tasks.bySubmission(w.owner, 'same')?.id).toBe(first.id);
    expect(w.store.tasks.bySubmission(w.owner, 'never')).toBeUndefined();
  });

  it('stores a new task ACTIVE and Queued, with its options and items round-tripping', () => {
    w = world();
    const t = w.transfer({ label: 'hello' });
    expect(t).toMatchObject({
      status: 'ACTIVE', niceStatus: 'Queued', label: 'hello', type: 'TRANSFER', attempts: 0, failures: 0, session: null, statsCur: null,
      items: [{ sourcePath: '/~/a', destinationPath: '/~/b', recursive: null }],
      options: { session: { parallelism: 4, checksumAlgorithm: 'sha256' }, encryptData: true },
    });
    expect(w.store.tasks.active().map((x) => x.id)).toEqual([t.id]);
  });

  it('filters, orders and pages the task list with a total', () => {
    w = world();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(w.transfer({ label: `run ${i}` }).id);
      w.clock.advance(1000);
    }
    const d = w.del(['/~/x'], { label: 'cleanup' });
    w.store.tasks.apply(ids[0]!, { status: 'SUCCEEDED', completionTime: w.clock.t });
    const base = { ownerId: w.owner, orderBy: [{ field: 'request_time' as const, desc: false }], limit: 2, offset: 0 };
    const p1 = w.store.tasks.list(base);
    expect(p1.total).toBe(6);
    expect(p1.records.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect(w.store.tasks.list({ ...base, offset: 4 }).records.map((r) => r.id)).toEqual([ids[4], d.id]);
    expect(w.store.tasks.list({ ...base, limit: 10, types: ['DELETE'] }).records.map((r) => r.id)).toEqual([d.id]);
    expect(w.store.tasks.list({ ...base, limit: 10, statuses: ['SUCCEEDED', 'FAILED'] }).records.map((r) => r.id)).toEqual([ids[0]]);
    expect(w.store.tasks.list({ ...base, limit: 10, taskIds: [ids[1]!, ids[3]!] }).total).toBe(2);
    expect(w.store.tasks.list({ ...base, limit: 10, labelLike: 'RUN' }).total).toBe(5);
    expect(w.store.tasks.list({ ...base, limit: 10, labelLike: '%' }).total).toBe(0);
    expect(w.store.tasks.list({ ...base, limit: 10, labels: ['cleanup'] }).records[0]?.id).toBe(d.id);
    expect(w.store.tasks.list({ ...base, limit: 10, requestTime: { from: w.clock.t - 1500 } }).total).toBe(2);
    expect(w.store.tasks.list({ ...base, limit: 1, orderBy: [{ field: 'request_time', desc: true }] }).records[0]?.id).toBe(d.id);
    const other = w.store.identities.create({ username: 'nosy@x' }).id;
    expect(w.store.tasks.list({ ...base, ownerId: other }).total).toBe(0);
  });

  it('writes a patch and its events in one transaction, and lists events newest first', () => {
    w = world();
    const t = w.transfer();
    const ev = (code: string, isError: boolean) => ({ time: w.clock.t, code, isError, description: code.toLowerCase(), details: '' });
    w.store.tasks.apply(t.id, { niceStatus: 'OK' }, [ev('STARTED', false), ev('CONNECT_FAILED', true), ev('PROGRESS', false)]);
    expect(() => w.store.tasks.apply(t.id, { niceStatus: 'never' }, [{ ...ev('X', true), code: null as never }])).toThrow();
    expect(w.task(t.id).niceStatus).toBe('OK');
    const all = w.store.tasks.listEvents(t.id, { limit: 10, offset: 0 });
    expect(all.total).toBe(3);
    expect(all.records.map((e) => e.code)).toEqual(['PROGRESS', 'CONNECT_FAILED', 'STARTED']);
    expect(w.store.tasks.listEvents(t.id, { isError: true, limit: 10, offset: 0 }).records.map((e) => e.code)).toEqual(['CONNECT_FAILED']);
    expect(w.store.tasks.listEvents(t.id, { limit: 1, offset: 1 }).records.map((e) => e.code)).toEqual(['CONNECT_FAILED']);
    expect(w.store.tasks.listEvents(t.id, { codes: ['STARTED'], limit: 10, offset: 0 }).total).toBe(1);
  });

  it('pages successful transfers by marker and lists a re-sent file once', () => {
    w = world();
    const t = w.transfer();
    const f = (i: number) => ({ sourcePath: `/~/a/${i}`, destinationPath: `/~/b/${i}`, size: i, checksum: `c${i}`, checksumAlgorithm: 'sha256' as const });
    w.store.tasks.addSuccessful(t.id, [f(1), f(2), f(3)]);
    w.store.tasks.addSuccessful(t.id, [f(3), f(4), f(5)]);
    const p1 = w.store.tasks.listSuccessful(t.id, 0, 2);
    expect(p1.records.map((r) => r.destinationPath)).toEqual(['/~/b/1', '/~/b/2']);
    const p2 = w.store.tasks.listSuccessful(t.id, p1.nextMarker!, 2);
    const p3 = w.store.tasks.listSuccessful(t.id, p2.nextMarker!, 2);
    expect([...p2.records, ...p3.records].map((r) => r.size)).toEqual([3, 4, 5]);
    expect(p3.nextMarker).toBeNull();
    expect(w.store.tasks.listSuccessful(t.id, 0, 10).nextMarker).toBeNull();
  });
});
