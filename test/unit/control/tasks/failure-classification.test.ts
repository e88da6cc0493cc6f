import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_CODE, ERROR_CATALOG, FerryError, eventCodeOfCode, isBoundedRetry, type CatalogEntry, type ErrorCode } from '../../../../src/common/errors.js';
import type { SessionSpec } from '../../../../src/protocol/index.js';
import { classifyCode, classifyError, classifyFerryCode, classifySessionError, type TaskOrchestrator } from '../../../../src/control/tasks/index.js';
import { asTransferError, eventCodeOf, transferError } from '../../../../src/transfer/errors.js';
import { nid, settle, stats, world, type World } from './fixtures.js';

/** Every event code Globus documents (globus-api.md §2.5), lifecycle and errors. */
const GLOBUS_EVENT_CODES = new Set([
  'STARTED', 'PROGRESS', 'SUCCEEDED', 'CANCELED', 'EXPIRED', 'PAUSED', 'UNPAUSED',
  'ACL_CHANGED', 'AMBIGUOUS_PATH', 'AUTH', 'CLOCK', 'CONNECT_FAILED', 'CONNECTION_BROKEN', 'CONNECTION_RESET', 'ENDPOINT_ERROR',
  'ENDPOINT_TOO_BUSY', 'EXTERNAL_CHECKSUM_MISMATCH', 'FILE_NOT_FOUND', 'FILE_SIZE_CHANGED', 'GC_NOT_CONNECTED', 'GC_PAUSED',
  'GSI_DN_MISMATCH', 'INTERNAL_ERROR', 'INVALID_PATH_NAME', 'INVALID_SERVICE_CREDENTIAL', 'INVALID_SYMLINK', 'IS_A_DIRECTORY',
  'IS_A_FILE', 'LIMIT_EXCEEDED', 'MPU_NOT_FOUND', 'NO_APPEND_FILESYSTEM', 'NO_CREDENTIALS', 'NO_PHYSICALS', 'NO_SPACE_LEFT',
  'NOT_A_DIRECTORY', 'NOT_A_FILE', 'NOT_A_SYMLINK', 'PERMISSION_DENIED', 'QUOTA_EXCEEDED', 'TIMEOUT', 'UNKNOWN', 'VERIFY_CHECKSUM',
]);

const CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];
const entry = (code: ErrorCode): CatalogEntry => ERROR_CATALOG[code];
const opts = { failOnQuotaErrors: false };

/** What the catalog says a task does about `code`. */
function expected(code: ErrorCode): { action: 'fail' | 'wait' | 'retry'; bounded: boolean } {
  if (entry(code).action !== 'retry') return { action: 'fail', bounded: false };
  return { action: eventCodeOfCode(code) === 'GC_NOT_CONNECTED' ? 'wait' : 'retry', bounded: isBoundedRetry(code) };
}

describe('one failure classification: the error catalog', () => {
  it('gives every code that can end a task attempt a Globus event code', () => {
    const mustName = CODES.filter((c) => /^(Transfer|Channel|ExternalError)\./.test(c) || c === 'InternalError' || c === 'Link.Closed');
    expect(mustName.length).toBeGreaterThan(20);
    expect(mustName.filter((c) => entry(c).event === undefined)).toEqual([]);
    for (const c of CODES) expect(GLOBUS_EVENT_CODES, `${c} -> ${eventCodeOfCode(c)}`).toContain(eventCodeOfCode(c));
    expect(eventCodeOfCode('Transfer.SourceNotFound')).toBe('FILE_NOT_FOUND');
    expect(eventCodeOfCode('Transfer.PermissionDenied')).toBe('PERMISSION_DENIED');
    expect(eventCodeOfCode('BadRequest')).toBe(DEFAULT_EVENT_CODE);
  });

  it('marks only retried codes as bounded, InternalError and a peer protocol error among them', () => {
    for (const c of CODES) if (entry(c).bounded) expect(entry(c).action, c).toBe('retry');
    expect(isBoundedRetry('InternalError')).toBe(true);
    expect(isBoundedRetry('Transfer.PeerProtocol')).toBe(true);
    expect(isBoundedRetry('Transfer.ConnectionLost')).toBe(false);
  });

  it("control decides every code as the catalog's action says, thrown or reported by an agent", () => {
    for (const code of CODES) {
      const want = expected(code);
      const direct = classifyFerryCode(code, undefined, 'm', opts);
      expect({ code, action: direct.action, bounded: direct.bounded === true, event: direct.code }).toEqual({ code, ...want, event: eventCodeOfCode(code) });
      // Thrown by a hub call (session.open, delete) ...
      const thrown = classifyError(new FerryError(code, 'm'), opts);
      expect({ code, action: thrown.action, bounded: thrown.bounded === true }).toEqual({ code, ...want });
      // ... or reported in session.done, with the event the agent's session engine gives it.
      const event = eventCodeOf(new FerryError(code, 'm'));
      const done = classifySessionError({ code: event, message: 'm', ferryCode: code }, 'm', opts);
      expect({ code, action: done.action, bounded: done.bounded === true, event: done.code }).toEqual({ code, ...want, event });
    }
  });

  it('the session engine reports the catalog event, refined only by details.eventCode', () => {
    for (const code of CODES) {
      expect(eventCodeOf(new FerryError(code)), code).toBe(eventCodeOfCode(code));
      expect(asTransferError(new FerryError(code)).details?.['eventCode'], code).toBe(eventCodeOfCode(code));
    }
    expect(eventCodeOf(transferError('Transfer.WrongType', 'x', 'IS_A_DIRECTORY'))).toBe('IS_A_DIRECTORY');
    // A refined event keeps the code's action: a vanished destination directory is retried, a missing source is not.
    expect(classifySessionError({ code: 'FILE_NOT_FOUND', message: 'm', ferryCode: 'ExternalError.IOError' }, 'm', opts).action).toBe('retry');
    expect(classifySessionError({ code: 'FILE_NOT_FOUND', message: 'm', ferryCode: 'Transfer.SourceNotFound' }, 'm', opts).action).toBe('fail');
  });

  it('an event code alone (older agents) is decided like the codes that report it', () => {
    for (const code of CODES) {
      const event = eventCodeOfCode(code);
      const sameEvent = CODES.filter((c) => eventCodeOfCode(c) === event);
      // Where every code of an event agrees, the event alone gives that decision.
      if (!sameEvent.every((c) => expected(c).action === expected(code).action)) continue;
      expect({ event, action: classifyCode(event, 'm', opts).action }).toEqual({ event, action: expected(code).action });
    }
    expect(classifyCode('NOT_IN_THE_CATALOG', 'm', opts)).toMatchObject({ code: 'NOT_IN_THE_CATALOG', action: 'retry', bounded: true });
  });

  it('fail_on_quota_errors turns a full disk or quota into a failure', () => {
    for (const code of ['Transfer.NoSpace', 'Transfer.QuotaExceeded'] as const) {
      expect(classifyFerryCode(code, undefined, 'm', opts).action).toBe('retry');
      expect(classifyFerryCode(code, undefined, 'm', { failOnQuotaErrors: true }).action).toBe('fail');
    }
  });
});

describe('bounded retries of unexpected errors', () => {
  const SRC = nid('src');
  const DST = nid('dst');
  let w: World;
  let o: TaskOrchestrator;
  beforeEach(() => { w = world(); o = w.orchestrator({ tickMs: 3_600_000, retryBaseMs: 1000, retryMaxMs: 8000, retryJitter: 0, stallTimeoutMs: 60_000, unexpectedErrorRetries: 2 }); });
  afterEach(() => w.cleanup());

  /** Open the next session of the task (both session.open calls answered); returns its id. */
  async function open(): Promise<string> {
    const [listen] = w.hub.take('session.open');
    expect(listen).toBeDefined();
    listen!.resolve({ address: '127.0.0.1:5999' });
    await settle();
    w.hub.take('session.open')[0]!.resolve({ address: null });
    await settle();
    return (listen!.message['session'] as SessionSpec).sessionId;
  }
  const failWith = (sessionId: string, ferryCode: string, code: string) =>
    w.hub.notice(DST, { type: 'session.done', sessionId, role: 'destination', ok: false, error: { code, message: 'boom', ferryCode }, stats: stats() });
  const nextAttempt = async () => {
    w.clock.advance(w.task(taskId).retryAt - w.clock.t);
    o.tick();
    return open();
  };
  let taskId = '';

  it('retries InternalError unexpectedErrorRetries times in a row, then fails the task', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    taskId = w.transfer().id;
    o.kick(taskId);
    failWith(await open(), 'InternalError', 'INTERNAL_ERROR');
    expect(w.task(taskId)).toMatchObject({ status: 'ACTIVE', failures: 1, niceStatus: 'INTERNAL_ERROR' });
    failWith(await nextAttempt(), 'InternalError', 'INTERNAL_ERROR');
    expect(w.task(taskId)).toMatchObject({ status: 'ACTIVE', failures: 2 });
    failWith(await nextAttempt(), 'InternalError', 'INTERNAL_ERROR');
    expect(w.task(taskId)).toMatchObject({ status: 'FAILED', fatalError: { code: 'INTERNAL_ERROR' } });
    const last = w.store.tasks.listEvents(taskId, { limit: 1, offset: 0 }).records[0];
    expect(last?.details).toMatch(/gave up: 3 attempts in a row failed without progress/);
  });

  it('keeps retrying an unbounded error, and progress resets the count of a bounded one', async () => {
    w.hub.connect(w.src, SRC);
    w.hub.connect(w.dst, DST);
    o.open();
    taskId = w.transfer().id;
    o.kick(taskId);
    let sid = await open();
    for (let i = 0; i < 5; i++) {
      failWith(sid, 'Transfer.ConnectionLost', 'CONNECTION_BROKEN');
      sid = await nextAttempt();
    }
    expect(w.task(taskId)).toMatchObject({ status: 'ACTIVE', failures: 5 });
    w.hub.notice(DST, { type: 'session.progress', sessionId: sid, stats: stats({ bytesTransferred: 1 }) });
    failWith(sid, 'Transfer.PeerProtocol', 'ENDPOINT_ERROR');
    expect(w.task(taskId)).toMatchObject({ status: 'ACTIVE', failures: 1, niceStatus: 'ENDPOINT_ERROR' });
  });
});
