import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import type { SessionSpec } from '../../../../src/protocol/index.js';
import { taskDocument, type TaskOrchestrator } from '../../../../src/control/tasks/index.js';
import { nid, settle, stats, world, type SentCall, type World } from './fixtures.js';

const SRC = nid('src');
const DST = nid('dst');
const SRC2 = nid('src2');
const ONE = nid('one');
const DST2 = nid('dst2');

const spec = (c: SentCall) => c.message['session'] as SessionSpec;
const codes = (w: World, id: string) => w.store.tasks.listEvents(id, { limit: 100, offset: 0 }).records.map((e) => e.code).reverse();

describe('transfer orchestration', () => {
  let w: World;
  let o: TaskOrchestrator;
  beforeEach(() => { w = world(); o = w.orchestrator(); });
  afterEach(() => w.cleanup());

  /** Submit a transfer and answer both session.open calls; returns the session's spec pair. */
  async function running(over = {}) {
    const t = w.transfer(over);
    o.kick(t.id);
    const [listen] = w.hub.take('session.open');
    expect(listen).toBeDefined();
    listen!.resolve({ address: '127.0.0.1:5999' });
    await settle();
    const [dial] = w.hub.take('session.open');
    expect(dial).toBeDefined();
    dial!.resolve({ address: null });
    await settle();
    return { t, listen: listen!, dial: dial!, sessionId: spec(listen!).sessionId };
  }

  it('opens the listening destination first, then the dialing source, and succeeds when both sides are done', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t, listen, dial, sessionId } = await running();
    expect(listen.nodeId).toBe(DST);
    expect(spec(listen)).toMatchObject({ role: 'destination', listen: true, taskId: t.id, peer: { nodeId: SRC, address: null } });
    expect(dial.nodeId).toBe(SRC);
    expect(spec(dial)).toMatchObject({ role: 'source', listen: false, sessionId, peer: { nodeId: DST, address: '127.0.0.1:5999' } });
    expect(spec(dial).secret).toBe(spec(listen).secret);
    expect(spec(dial).items).toEqual([{ sourcePath: '/~/a', destinationPath: '/~/b', recursive: null }]);
    let task = w.task(t.id);
    expect(task).toMatchObject({ status: 'ACTIVE', niceStatus: 'OK', attempts: 1, session: { sessionId, sourceNode: SRC, destinationNode: DST } });
    const started = w.store.tasks.listEvents(t.id, { limit: 1, offset: 0 }).records[0]!;
    expect(started).toMatchObject({ code: 'STARTED', isError: false });
    expect(JSON.parse(started.details)).toEqual({ type: 'Ferry Transfer', concurrency: 1, parallelism: 4 });

    w.hub.notice(DST, { type: 'session.progress', sessionId, stats: stats({ files: 3, directories: 1, filesTransferred: 1, bytesTransferred: 500 }) });
    w.hub.notice(SRC, { type: 'session.progress', sessionId, stats: stats({ files: 99, bytesTransferred: 99_999 }) });
    w.hub.notice(DST, { type: 'session.files', sessionId, files: [{ sourcePath: '/~/a/x', destinationPath: '/~/b/x', size: 500, checksum: 'ab', checksumAlgorithm: 'sha256' }] });
    w.hub.notice(DST, { type: 'session.event', sessionId, event: { code: 'VERIFY_CHECKSUM', isError: true, description: 'checksum mismatch', details: '/~/b/y' } });
    expect(w.task(t.id)).toMatchObject({ niceStatus: 'VERIFY_CHECKSUM', statsCur: { files: 3, bytesTransferred: 500 } });
    w.hub.notice(DST, { type: 'session.progress', sessionId, stats: stats({ files: 3, directories: 1, filesTransferred: 2, bytesTransferred: 900 }) });
    expect(w.task(t.id).niceStatus).toBe('OK');

    w.hub.notice(SRC, { type: 'session.done', sessionId, role: 'source', ok: true, error: null, stats: stats() });
    expect(w.task(t.id).status).toBe('ACTIVE');
    w.clock.advance(10_000);
    w.hub.notice(DST, { type: 'session.done', sessionId, role: 'destination', ok: true, error: null, stats: stats({ files: 3, directories: 1, filesTransferred: 3, bytesTransferred: 1000 }) });
    task = w.task(t.id);
    expect(task).toMatchObject({ status: 'SUCCEEDED', completionTime: w.clock.t, niceStatus: null, session: null, fatalError: null, statsCur: null });
    const doc = taskDocument({ record: task, owner: undefined, source: undefined, destination: undefined, now: w.clock.t, skippedErrors: 0 });
    expect(doc).toMatchObject({ files: 3, directories: 1, files_transferred: 3, bytes_transferred: 1000, effective_bytes_per_second: 100, faults: 0, nice_status: null, is_ok: null, subtasks_succeeded: 4, subtasks_pending: 0 });
    expect(codes(w, t.id)).toEqual(['STARTED', 'VERIFY_CHECKSUM', 'SUCCEEDED']);
    expect(w.store.tasks.listSuccessful(t.id, 0, 10).records.map((r) => r.destinationPath)).toEqual(['/~/b/x']);
    // The destination is told to drop the task's restart records.
    expect(w.hub.take('task.cleanup').map((c) => [c.nodeId, c.message['taskId']])).toEqual([[DST, t.id]]);
    expect(w.hub.calls).toHaveLength(0);
  });

  it('runs encrypt_data false in clear text only when both agents can and may; otherwise encrypted, and the task says so', async () => {
    const options = {
      session: { syncLevel: null, verifyChecksum: true, preserveTimestamp: false, deleteDestinationExtra: false, skipSourceErrors: false, failOnQuotaErrors: false, checksumAlgorithm: 'sha256', parallelism: 4 },
      encryptData: false, recursiveSymlinks: 'ignore', filterRules: null,
    };
    w.hub.connect(w.src, SRC, undefined, ['transfer', 'clear-data']);
    w.hub.connect(w.dst, DST, undefined, ['transfer', 'clear-data']);
    o.open();
    const clear = await running({ options });
    expect([spec(clear.listen).encryptData, spec(clear.dial).encryptData]).toEqual([false, false]);
    expect(w.task(clear.t.id).options).toMatchObject({ encryptData: false });
    // Encrypted by default: the field is left out, so agents that predate it take the session.
    const enc = await running({ items: [{ sourcePath: '/~/c', destinationPath: '/~/d', recursive: null }] });
    expect(spec(enc.listen)).not.toHaveProperty('encryptData');
    // The destination's agent config forces encryption: the task runs encrypted and its document says so.
    w.hub.disconnect(DST);
    w.hub.connect(w.dst, DST2, undefined, ['transfer', 'clear-data', 'force-encryption']);
    const forced = await running({ options, items: [{ sourcePath: '/~/e', destinationPath: '/~/f', recursive: null }] });
    expect(spec(forced.listen)).not.toHaveProperty('encryptData');
    expect(spec(forced.dial)).not.toHaveProperty('encryptData');
    expect(w.task(forced.t.id).options).toMatchObject({ encryptData: true });
  });

  it('connects spare streams only for a task that left parallelism to Ferry and a source sending with a loss-based congestion control; the document says what ran', async () => {
    const session = { syncLevel: null, verifyChecksum: true, preserveTimestamp: false, deleteDestinationExtra: false, skipSourceErrors: false, failOnQuotaErrors: false, checksumAlgorithm: 'sha256', parallelism: 4 };
    const adaptive = { session, encryptData: true, recursiveSymlinks: 'ignore', filterRules: null, adaptiveParallelism: true };
    const item = (k: number) => ({ items: [{ sourcePath: `/~/a${k}`, destinationPath: `/~/b${k}`, recursive: null }] });
    w.hub.connect(w.src, SRC, undefined, ['transfer', 'congestion:cubic']);
    w.hub.connect(w.dst, DST, undefined, ['transfer', 'congestion:bbr']);
    o.open();
    const grows = await running({ options: adaptive, ...item(1) });
    // Both sides connect the same streams; only the source decides when they carry data.
    expect([spec(grows.listen).maxParallelism, spec(grows.dial).maxParallelism]).toEqual([16, 16]);
    expect(spec(grows.dial).options.parallelism).toBe(4);
    // A number asked for is kept.
    const pinned = await running({ options: { ...adaptive, adaptiveParallelism: false }, ...item(2) });
    expect(spec(pinned.listen)).not.toHaveProperty('maxParallelism');
    // An older task row (no flag) is fixed too.
    const { adaptiveParallelism: _, ...older } = adaptive;
    const old = await running({ options: older, ...item(3) });
    expect(spec(old.dial)).not.toHaveProperty('maxParallelism');
    // The stream count the destination saw carry data is the task's parallelism.
    w.hub.notice(DST, { type: 'session.done', sessionId: grows.sessionId, role: 'destination', ok: true, error: null, stats: stats({ files: 1, filesTransferred: 1, bytesTransferred: 10, streams: 9 }) });
    w.hub.notice(SRC, { type: 'session.done', sessionId: grows.sessionId, role: 'source', ok: true, error: null, stats: stats() });
    const doc = taskDocument({ record: w.task(grows.t.id), owner: undefined, source: undefined, destination: undefined, now: w.clock.t, skippedErrors: 0 });
    expect(doc).toMatchObject({ status: 'SUCCEEDED', parallelism: 9 });
    const pinnedDoc = taskDocument({ record: w.task(pinned.t.id), owner: undefined, source: undefined, destination: undefined, now: w.clock.t, skippedErrors: 0 });
    expect(pinnedDoc['parallelism']).toBe(4);
    // A source on bbr (or one that does not say) gets no spare streams.
    w.hub.disconnect(SRC);
    w.hub.connect(w.src, SRC2, undefined, ['transfer', 'congestion:bbr']);
    const bbr = await running({ options: adaptive, ...item(4) });
    expect(spec(bbr.dial)).not.toHaveProperty('maxParallelism');
    w.hub.disconnect(SRC2);
    w.hub.connect(w.src, ONE, undefined, ['transfer']);
    const silent = await running({ options: adaptive, ...item(5) });
    expect(spec(silent.dial)).not.toHaveProperty('maxParallelism');
  });

  it('lets the source listen when only it is reachable, and waits (one event) when neither is', async () => {
    w.hub.connect(w.src, SRC, []);
    w.hub.connect(w.dst, DST, []);
    o.open();
    const t = w.transfer();
    o.kick(t.id);
    o.tick();
    o.tick();
    expect(w.hub.calls).toHaveLength(0);
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'CONNECT_FAILED' });
    expect(codes(w, t.id)).toEqual(['CONNECT_FAILED']);
    w.hub.connect(w.src, SRC2, ['10.0.0.1:7000']);
    const [listen] = w.hub.take('session.open');
    expect(listen).toMatchObject({ nodeId: SRC2, message: { session: { role: 'source', listen: true } } });
  });

  it('sends both roles of a same-endpoint transfer to its one agent', async () => {
    w.hub.connect(w.src, ONE);
    o.open();
    const { listen, dial } = await running({ destinationEndpointId: w.src });
    expect([listen.nodeId, dial.nodeId]).toEqual([ONE, ONE]);
    expect([spec(listen).role, spec(dial).role]).toEqual(['destination', 'source']);
    expect(spec(listen).peer.nodeId).toBe(ONE);
  });

  it('waits GC_NOT_CONNECTED while an agent is offline and starts when it connects', async () => {
    w.hub.connect(w.src, SRC);
    o.open();
    const t = w.transfer();
    o.kick(t.id);
    o.tick();
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'GC_NOT_CONNECTED', attempts: 0 });
    expect(codes(w, t.id)).toEqual(['GC_NOT_CONNECTED']);
    w.hub.connect(w.dst, DST);
    expect(w.hub.take('session.open').map((c) => c.nodeId)).toEqual([DST]);
  });

  it('counts a fault when an agent drops mid-session, cancels the other side, and re-opens when it is back', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t, sessionId } = await running();
    w.hub.notice(DST, { type: 'session.progress', sessionId, stats: stats({ files: 2, bytesTransferred: 300 }) });
    w.hub.disconnect(SRC);
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'GC_NOT_CONNECTED', session: null, statsCur: null, statsBase: { faults: 1, bytesTransferred: 300 } });
    expect(w.hub.take('session.cancel').map((c) => [c.nodeId, c.message['sessionId']])).toEqual([[DST, sessionId]]);
    // A late notice of the abandoned session changes nothing.
    w.hub.notice(DST, { type: 'session.progress', sessionId, stats: stats({ bytesTransferred: 10_000 }) });
    expect(w.task(t.id).statsBase.bytesTransferred).toBe(300);
    o.tick();
    expect(w.hub.calls).toHaveLength(0);
    w.hub.connect(w.src, SRC);
    const [reopen] = w.hub.take('session.open');
    expect(reopen?.nodeId).toBe(DST);
    expect(spec(reopen!).sessionId).not.toBe(sessionId);
    expect(w.task(t.id).attempts).toBe(2);
    expect(codes(w, t.id)).toEqual(['STARTED', 'GC_NOT_CONNECTED']);
  });

  it('fails the task on a permanent error with fatal_error, and cancels the side still running', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t, sessionId } = await running();
    w.hub.notice(SRC, { type: 'session.done', sessionId, role: 'source', ok: false, error: { code: 'FILE_NOT_FOUND', message: '/~/a: no such file' }, stats: stats() });
    expect(w.task(t.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'FILE_NOT_FOUND', description: 'file not found' }, niceStatus: null });
    expect(w.hub.take('session.cancel').map((c) => c.nodeId)).toEqual([DST]);
    const last = w.store.tasks.listEvents(t.id, { limit: 1, offset: 0 }).records[0];
    expect(last).toMatchObject({ code: 'FILE_NOT_FOUND', isError: true, details: 'source: /~/a: no such file' });
  });

  it('retries transient failures with capped exponential backoff and resets it after progress', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    let { t, sessionId } = await running();
    const fail = (sid: string) => w.hub.notice(DST, { type: 'session.done', sessionId: sid, role: 'destination', ok: false, error: { code: 'CONNECTION_BROKEN', message: 'reset' }, stats: stats() });
    const reopen = async () => {
      const [l] = w.hub.take('session.open');
      l!.resolve({ address: '127.0.0.1:1' });
      await settle();
      w.hub.take('session.open')[0]!.resolve({ address: null });
      await settle();
      return spec(l!).sessionId;
    };
    fail(sessionId);
    w.hub.take('session.cancel');
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', failures: 1, retryAt: w.clock.t + 1000, niceStatus: 'CONNECTION_BROKEN', statsBase: { faults: 1 } });
    w.clock.advance(999);
    o.tick();
    expect(w.hub.calls).toHaveLength(0);
    w.clock.advance(1);
    o.tick();
    sessionId = await reopen();
    fail(sessionId);
    expect(w.task(t.id)).toMatchObject({ failures: 2, retryAt: w.clock.t + 2000 });
    for (let i = 0; i < 4; i++) {
      w.clock.advance(w.task(t.id).retryAt - w.clock.t);
      o.tick();
      fail(await reopen());
    }
    expect(w.task(t.id)).toMatchObject({ failures: 6, retryAt: w.clock.t + 8000, statsBase: { faults: 6 } });
    w.clock.advance(8000);
    o.tick();
    sessionId = await reopen();
    w.hub.notice(DST, { type: 'session.progress', sessionId, stats: stats({ bytesTransferred: 1 }) });
    fail(sessionId);
    expect(w.task(t.id)).toMatchObject({ failures: 1, retryAt: w.clock.t + 1000 });
    t = w.task(t.id);
    expect(t.status).toBe('ACTIVE');
  });

  it('classifies errors answering session.open: permission denied fails, a timeout retries', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const a = w.transfer();
    o.kick(a.id);
    w.hub.take('session.open')[0]!.reject(new FerryError('ExternalError.Timeout', 'no answer'));
    await settle();
    expect(w.task(a.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'TIMEOUT', failures: 1 });
    expect(w.hub.take('session.cancel').map((c) => c.nodeId).sort()).toEqual([SRC, DST].sort());
    const b = w.transfer({ items: [{ sourcePath: '/etc', destinationPath: '/~/etc', recursive: true }] } as never);
    o.kick(b.id);
    w.hub.take('session.open')[0]!.resolve({ address: '127.0.0.1:1' });
    await settle();
    w.hub.take('session.open')[0]!.reject(new FerryError('EndpointPermissionDenied', 'Path not allowed'));
    await settle();
    expect(w.task(b.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'PERMISSION_DENIED' } });
    expect(w.hub.take('session.cancel').map((c) => c.nodeId).sort()).toEqual([SRC, DST].sort());
  });

  it('expires a task at its deadline: FAILED, EXPIRED event, sessions canceled', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t, sessionId } = await running();
    w.clock.advance(3600_000 - 1);
    o.tick();
    expect(w.task(t.id).status).toBe('ACTIVE');
    w.clock.advance(1);
    o.tick();
    expect(w.task(t.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'EXPIRED' }, completionTime: w.clock.t });
    expect(codes(w, t.id).at(-1)).toBe('EXPIRED');
    expect(w.hub.take('session.cancel').map((c) => [c.nodeId, c.message['sessionId']]).sort()).toEqual([[DST, sessionId], [SRC, sessionId]].sort());
  });

  it('tells a destination that was away when its task ended to clean up once it is back, and one that left mid-cleanup again', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t } = await running();
    // Killed mid-transfer: the attempt waits for the agent; canceled meanwhile, nobody there to clean up.
    w.hub.disconnect(DST);
    w.hub.take('session.cancel');
    expect(o.cancel(t.id)).toBe('Canceled');
    expect(w.hub.take('task.cleanup')).toEqual([]);
    // Back (a restarted agent): the cleanup goes first thing, after the cancels it missed.
    w.hub.connect(w.dst, DST2);
    await settle();
    const [first] = w.hub.take('task.cleanup');
    expect([first!.nodeId, first!.message['taskId']]).toEqual([DST2, t.id]);
    // Gone again before it answered (as AgentConnection fails its pending calls): sent once more when an agent of the endpoint is back.
    w.hub.disconnect(DST2);
    first!.reject(new FerryError('ExternalError.GCDisconnected', 'the endpoint agent disconnected before answering'));
    await settle();
    w.hub.connect(w.dst, DST);
    await settle();
    const [again] = w.hub.take('task.cleanup');
    expect([again!.nodeId, again!.message['taskId']]).toEqual([DST, t.id]);
    again!.resolve({});
    await settle();
    // Answered: nothing more to send, however often the agent comes back.
    w.hub.disconnect(DST);
    w.hub.connect(w.dst, DST2);
    await settle();
    expect(w.hub.take('task.cleanup')).toEqual([]);
  });

  it('cancels at once; a second cancel and late notices find the task complete', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t, sessionId } = await running();
    expect(o.cancel(t.id)).toBe('Canceled');
    expect(w.task(t.id)).toMatchObject({ status: 'FAILED', fatalError: { code: 'CANCELED', description: 'canceled' } });
    const ev = w.store.tasks.listEvents(t.id, { limit: 1, offset: 0 }).records[0];
    expect(ev).toMatchObject({ code: 'CANCELED', isError: true, details: 'Canceled by the task owner' });
    const cancels = w.hub.take('session.cancel');
    expect(cancels).toHaveLength(2);
    // The task is over: partials go (no keepPartials), then the destination cleans up after the task.
    expect(cancels.every((c) => c.message['keepPartials'] === undefined)).toBe(true);
    expect(w.hub.take('task.cleanup').map((c) => [c.nodeId, c.message['taskId']])).toEqual([[DST, t.id]]);
    // Files the destination made durable before it stopped still count; its done changes nothing.
    const file = { sourcePath: '/~/a/1', destinationPath: '/~/b/1', size: 1, checksum: 'c', checksumAlgorithm: 'sha256' as const };
    w.hub.notice(SRC, { type: 'session.files', sessionId, files: [{ ...file, destinationPath: '/~/b/forged' }] });
    w.hub.notice(DST, { type: 'session.files', sessionId, files: [file] });
    w.hub.notice(DST, { type: 'session.done', sessionId, role: 'destination', ok: false, error: { code: 'CANCELED', message: 'x' }, stats: stats() });
    expect(w.store.tasks.listEvents(t.id, { limit: 100, offset: 0 }).total).toBe(2);
    expect(w.store.tasks.listSuccessful(t.id, 0, 10).records.map((r) => r.destinationPath)).toEqual(['/~/b/1']);
    expect(w.hub.calls).toHaveLength(0);
    expect(o.cancel(t.id)).toBe('TaskComplete');
  });

  it('tells an agent to cancel a session control does not know, once', () => {
    w.hub.connect(w.src, SRC);
    o.open();
    const sessionId = '6f0d1b1e-8d43-4b43-9a57-3a8f6d0c1a11';
    w.hub.notice(SRC, { type: 'session.progress', sessionId, stats: stats() });
    w.hub.notice(SRC, { type: 'session.progress', sessionId, stats: stats() });
    expect(w.hub.take('session.cancel').map((c) => c.message['sessionId'])).toEqual([sessionId]);
  });

  it('restarts a stalled session', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    const { t } = await running();
    w.clock.advance(60_001);
    o.tick();
    expect(w.task(t.id)).toMatchObject({ status: 'ACTIVE', niceStatus: 'TIMEOUT', statsBase: { faults: 1 } });
    expect(w.hub.take('session.cancel')).toHaveLength(2);
  });
});
