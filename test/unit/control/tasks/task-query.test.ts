import { describe, expect, it } from 'vitest';
import { FerryError } from '../../../../src/common/errors.js';
import {
  backoffMs, classifyCode, classifyError, combineStats, parseEventFilter, parseTaskFilter, parseTaskOrder,
} from '../../../../src/control/tasks/index.js';
import { stats } from './fixtures.js';

const badRequest = expect.objectContaining({ code: 'ClientError.BadRequest' });

describe('task query grammar', () => {
  it('parses task_list filters: lists, enums, label match and time ranges', () => {
    expect(parseTaskFilter(['status:active,SUCCEEDED/type:TRANSFER'])).toEqual({ statuses: ['ACTIVE', 'SUCCEEDED'], types: ['TRANSFER'] });
    expect(parseTaskFilter(['task_id:A,b', 'label:~nightly'])).toEqual({ taskIds: ['a', 'b'], labelLike: 'nightly' });
    expect(parseTaskFilter(['label:x,y'])).toEqual({ labels: ['x', 'y'] });
    expect(parseTaskFilter(['request_time:2021-01-01,'])).toEqual({ requestTime: { from: Date.UTC(2021, 0, 1) } });
    expect(parseTaskFilter(['completion_time:,2021-01-02T00:00:00Z'])).toEqual({ completionTime: { to: Date.UTC(2021, 0, 2) } });
    expect(parseTaskFilter([])).toEqual({});
    for (const bad of ['status:DONE', 'type:COPY', 'owner_id:x', 'nocolon', 'request_time:yesterday,']) {
      expect(() => parseTaskFilter([bad]), bad).toThrow(badRequest);
    }
  });

  it('parses orderby and event filters', () => {
    expect(parseTaskOrder(undefined)).toEqual([{ field: 'request_time', desc: true }]);
    expect(parseTaskOrder('label, completion_time desc')).toEqual([{ field: 'label', desc: false }, { field: 'completion_time', desc: true }]);
    expect(() => parseTaskOrder('label UP')).toThrow(badRequest);
    expect(() => parseTaskOrder('owner_id')).toThrow(badRequest);
    expect(parseEventFilter(['is_error:1'])).toEqual({ isError: true });
    expect(parseEventFilter(['is_error:false/code:started,progress'])).toEqual({ isError: false, codes: ['STARTED', 'PROGRESS'] });
    expect(() => parseEventFilter(['is_error:maybe'])).toThrow(badRequest);
  });
});

describe('failure handling rules', () => {
  it('fails fast on path and permission errors, waits on a lost agent, retries the rest', () => {
    const opts = { failOnQuotaErrors: false };
    expect(classifyCode('FILE_NOT_FOUND', 'x', opts).action).toBe('fail');
    expect(classifyCode('PERMISSION_DENIED', 'x', opts).action).toBe('fail');
    expect(classifyCode('QUOTA_EXCEEDED', 'x', opts).action).toBe('retry');
    expect(classifyCode('QUOTA_EXCEEDED', 'x', { failOnQuotaErrors: true }).action).toBe('fail');
    expect(classifyCode('CONNECTION_BROKEN', 'x', opts).action).toBe('retry');
    expect(classifyCode('GC_NOT_CONNECTED', 'x', opts).action).toBe('wait');
    expect(classifyCode('lower-case junk', 'x', opts)).toMatchObject({ code: 'UNKNOWN', action: 'retry' });
    expect(classifyError(new FerryError('ExternalError.PermissionDenied'), opts)).toMatchObject({ code: 'PERMISSION_DENIED', action: 'fail' });
    expect(classifyError(new FerryError('ExternalError.GCDisconnected'), opts)).toMatchObject({ code: 'GC_NOT_CONNECTED', action: 'wait' });
    expect(classifyError(new FerryError('InternalError', 'NOT_A_DIRECTORY: /x is a file'), opts)).toMatchObject({ code: 'NOT_A_DIRECTORY', action: 'fail', message: '/x is a file' });
    // The catalog's action decides (ClientError.Conflict: fail); a code without an event of its own is ENDPOINT_ERROR and names itself.
    expect(classifyError(new FerryError('ClientError.Conflict', 'no listener'), opts)).toMatchObject({ code: 'ENDPOINT_ERROR', action: 'fail', message: 'ClientError.Conflict: no listener' });
    expect(classifyError(new Error('boom'), opts)).toMatchObject({ code: 'INTERNAL_ERROR', action: 'retry', bounded: true });
  });

  it('backs off exponentially up to the cap, with jitter only shortening the wait', () => {
    const limits = { retryBaseMs: 1000, retryMaxMs: 10_000, retryJitter: 0.5 };
    expect([1, 2, 3, 4, 5, 50].map((f) => backoffMs(f, limits, () => 0))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(backoffMs(3, limits, () => 1)).toBe(2000);
  });

  it('adds up work across attempts but not the tree', () => {
    const a = stats({ files: 10, filesTransferred: 4, bytesTransferred: 400, faults: 1 });
    const b = stats({ files: 10, filesTransferred: 10, bytesTransferred: 1000 });
    expect(combineStats(a, b)).toMatchObject({ files: 10, filesTransferred: 10, bytesTransferred: 1400, faults: 1 });
    expect(combineStats(a, null)).toBe(a);
  });
});
