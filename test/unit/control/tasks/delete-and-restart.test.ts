import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import type { SessionSpec } from '../../../../src/protocol/index.js';
import { nid, settle, stats, world, type World } from './fixtures.js';

const SRC = nid('src');
const DST = nid('dst');
const codes = (w: World, id: string) => w.store.tasks.listEvents(id, { limit: 100, offset: 0 }).records.map((e) => e.code).reverse();

describe('delete tasks', () => {
  let w: World;
  beforeEach(() => { w = world(); });
  afterEach(() => w.cleanup());

  it('deletes item by item as the owner and succeeds with the counts', async () => {
    w.hub.connect(w.src, SRC);
    const o = w.orchestrator();
    o.open();
    const t = w.del(['/~/a', '/~/b']);
    o.kick(t.id);
    expect(w.hub.deletes).toHaveLength(1);
    const first = w.hub.deletes.shift()!;
    expect(first).toMatchObject({ endpointId: w.src, args: { path: '/~/a', recursive: true, ignoreMissing: false }, principals: { identityId: w.owner, authenticated: true } });
    first.resolve({ files: 3, directories: 1 });
    await settle();
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', itemsDone: 1 });
    w.hub.deletes.shift()!.resolve({ files: 1, directories: 0 });
    await settle();
    expect(w.task(t.id)).toMatchObject({ status: 'SUCCEEDED', itemsDone: 2, statsBase: { files: 4, directories: 1 } });
    expect(codes(w, t.id)).toEqual(['STARTED', 'SUCCEEDED']);
  });

  it('fails on a missing path, and retries a timed-out item without failing on it if it is gone by then', async () => {
    w.hub.connect(w.src, SRC);
    const o = w.orchestrator();
    o.open();
    const a = w.del(['/~/missing']);
    o.kick(a.id);
    w.hub.deletes.shift()!.reject(new FerryError('ClientError.NotFound', 'no such file'));
    await settle();
    expect(w.task(a.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'FILE_NOT_FOUND', description: 'file not found' } });

    const b = w.del(['/~/x', '/~/y']);
    o.kick(b.id);
    w.hub.deletes.shift()!.resolve({ files: 1, directories: 0 });
    await settle();
    w.hub.deletes.shift()!.reject(new FerryError('ExternalError.Timeout', 'slow'));
    await settle();
    expect(w.task(b.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'TIMEOUT', itemsDone: 1, retryAt: w.clock.t + 1000 });
    w.clock.advance(1000);
    o.tick();
    const retry = w.hub.deletes.shift()!;
    expect(retry.args).toEqual({ path: '/~/y', recursive: true, ignoreMissing: true });
    retry.resolve({ files: 0, directories: 0 });
    await settle();
    expect(w.task(b.id).status).toBe('SUCCEEDED');
  });

  it('waits for an offline agent and ignores the answer of a canceled delete', async () => {
    const o = w.orchestrator();
    o.open();
    const t = w.del(['/~/a']);
    o.kick(t.id);
    expect(w.task(t.id).niceStatus).toBe('GC_NOT_CONNECTED');
    w.hub.connect(w.src, SRC);
    const pending = w.hub.deletes.shift()!;
    expect(o.cancel(t.id)).toBe('Canceled');
    pending.resolve({ files: 1, directories: 0 });
    await settle();
    expect(w.task(t.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'CANCELED' }, itemsDone: 0 });
    expect(codes(w, t.id)).toEqual(['GC_NOT_CONNECTED', 'STARTED', 'CANCELED']);
  });
});

describe('control restart', () => {
  let w: World;
  beforeEach(() => { w = world(); });
  afterEach(() => w.cleanup());

  it('resumes ACTIVE tasks from the store: cancels the stale session first, then opens a new one', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    const before = w.orchestrator();
    before.open();
    const t = w.transfer();
    before.kick(t.id);
    w.hub.take('session.open')[0]!.resolve({ address: '127.0.0.1:1' });
    await settle();
    const dial = w.hub.take('session.open')[0]!;
    dial.resolve({ address: null });
    await settle();
    const old = (dial.message['session'] as SessionSpec).sessionId;
    w.hub.notice(DST, { type: 'session.progress', sessionId: old, stats: stats({ files: 5, bytesTransferred: 700 }) });
    await before.close();
    w.hub.notice(DST, { type: 'session.progress', sessionId: old, stats: stats({ files: 5, bytesTransferred: 900 }) });
    expect(w.task(t.id).statsCur?.bytesTransferred).toBe(700);

    const after = w.orchestrator();
    after.open();
    const sent = w.hub.calls.map((c) => [c.message['type'], c.nodeId, (c.message['session'] as SessionSpec | undefined)?.sessionId ?? c.message['sessionId']]);
    expect(sent).toEqual([['session.cancel', SRC, old], ['session.cancel', DST, old], ['session.open', DST, expect.any(String)]]);
    expect(sent[2]![2]).not.toBe(old);
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', attempts: 2, statsCur: null, statsBase: { files: 5, bytesTransferred: 700 } });
    // The old session's notices are no longer counted.
    w.hub.notice(DST, { type: 'session.progress', sessionId: old, stats: stats({ bytesTransferred: 5000 }) });
    expect(w.task(t.id).statsBase.bytesTransferred).toBe(700);
  });

  it('sends a stale cancel to an agent that was offline when control started, before the new open', async () => {
    const t = w.transfer();
    w.store.tasks.apply(t.id, { session: { sessionId: '0d6f5a40-2f5e-4b7e-9a34-5ad8cf1e2b11', sourceNode: SRC, destinationNode: DST }, attempts: 1 });
    const o = w.orchestrator();
    o.open();
    await settle();
    expect(w.hub.calls).toHaveLength(0);
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    expect(w.hub.calls.map((c) => [c.message['type'], c.nodeId])).toEqual([['session.cancel', SRC], ['session.cancel', DST], ['session.open', DST]]);
  });

  it('expires a task whose deadline passed while control was down', () => {
    const t = w.transfer();
    w.clock.advance(2 * 3600_000);
    w.orchestrator().open();
    expect(w.task(t.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'EXPIRED' } });
  });
});
