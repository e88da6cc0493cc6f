import { fastify } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/common/logger.js';
import type { Api, ApiContext } from '../../../../src/control/api/context.js';
import { installErrorHandlers } from '../../../../src/control/api/errors.js';
import { registerTaskRoutes } from '../../../../src/control/api/routes/tasks.js';
import { TRANSFER_SCOPE } from '../../../../src/control/store/index.js';
import { TaskOrchestrator } from '../../../../src/control/tasks/index.js';
import { world, type World } from './fixtures.js';

/** Every field of a Globus task document (globus-api.md §1.3 and the JS SDK's TaskDocument). */
const TASK_FIELDS = [
  'DATA_TYPE', 'task_id', 'type', 'status', 'label', 'owner_id', 'username', 'command', 'request_time', 'completion_time', 'deadline',
  'source_endpoint', 'source_endpoint_id', 'source_endpoint_display_name', 'destination_endpoint', 'destination_endpoint_id',
  'destination_endpoint_display_name', 'sync_level', 'encrypt_data', 'verify_checksum', 'delete_destination_extra', 'recursive_symlinks',
  'preserve_timestamp', 'skip_source_errors', 'fail_on_quota_errors', 'filter_rules', 'faults', 'files', 'directories', 'symlinks',
  'files_skipped', 'files_transferred', 'subtasks_total', 'subtasks_pending', 'subtasks_retrying', 'subtasks_succeeded',
  'subtasks_expired', 'subtasks_canceled', 'subtasks_failed', 'subtasks_skipped_errors', 'bytes_transferred', 'bytes_checksummed',
  'effective_bytes_per_second', 'fatal_error', 'nice_status', 'nice_status_details', 'nice_status_short_description',
  'nice_status_expires_in', 'is_ok', 'is_paused', 'canceled_by_admin', 'canceled_by_admin_message', 'history_deleted', 'key',
];
const GLOBUS_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/;

describe('task routes', () => {
  let w: World;
  let app: Api;
  let tasks: TaskOrchestrator;

  beforeEach(async () => {
    w = world();
    tasks = new TaskOrchestrator({ repo: w.store.tasks, hub: w.hub, log: silentLogger(), limits: { successfulTransfersPage: 2, tickMs: 3_600_000 } });
    tasks.open();
    app = fastify() as unknown as Api;
    installErrorHandlers(app, () => []);
    const ctx = { store: w.store, tasks, log: silentLogger() } as unknown as ApiContext;
    registerTaskRoutes(app, ctx);
    await app.ready();
  });
  afterEach(async () => {
    await tasks.close();
    await app.close();
    w.cleanup();
  });

  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, token = w.token) => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  };
  const transferBody = (over: Record<string, unknown> = {}) => ({
    DATA_TYPE: 'transfer', submission_id: `sub-${Math.random()}`, source_endpoint: w.src, destination_endpoint: w.dst,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/in/', destination_path: '/~/out/', recursive: true }], ...over,
  });

  it('hands out submission ids and needs a transfer-scoped token', async () => {
    const r = await call('GET', '/v0.10/submission_id');
    expect(r).toMatchObject({ status: 200, body: { DATA_TYPE: 'submission_id', value: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
    // A personal token for another service (Auth) is refused as one of another resource server.
    const other = w.store.tokens.issue(w.owner, ['openid'], null).token;
    expect(await call('GET', '/v0.10/submission_id', undefined, other)).toMatchObject({ status: 403, body: { code: 'PermissionDenied' } });
  });

  it('accepts a transfer (202), answers Duplicate for the same submission id, and shows the full task document', async () => {
    const body = transferBody({ label: 'nightly', sync_level: 'checksum', checksum_algorithm: 'MD5', perf_p: 8, encrypt_data: false, filter_rules: [{ DATA_TYPE: 'filter_rule', method: 'exclude', name: '*.tmp' }] });
    const r = await call('POST', '/v0.10/transfer', body);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      DATA_TYPE: 'transfer_result', code: 'Accepted', submission_id: body.submission_id, resource: '/v0.10/transfer',
      task_link: { DATA_TYPE: 'link', href: `/v0.10/task/${r.body.task_id}?format=json`, rel: 'related', resource: 'task', title: 'related task' },
    });
    expect(r.body).not.toHaveProperty('duplicate');
    const again = await call('POST', '/v0.10/transfer', { ...body, label: 'changed' });
    expect(again).toMatchObject({ status: 200, body: { code: 'Duplicate', task_id: r.body.task_id, submission_id: body.submission_id } });
    expect(w.store.db.prepare('SELECT COUNT(*) AS n FROM tasks').get()).toEqual({ n: 1 });

    const doc = (await call('GET', `/v0.10/task/${r.body.task_id}`)).body;
    expect(Object.keys(doc).sort()).toEqual(expect.arrayContaining(TASK_FIELDS.sort()));
    expect(doc).toMatchObject({
      DATA_TYPE: 'task', type: 'TRANSFER', status: 'ACTIVE', label: 'nightly', owner_id: w.owner, username: 'owner@example.org',
      source_endpoint_id: w.src, source_endpoint_display_name: 'source ep', destination_endpoint_display_name: 'destination ep',
      sync_level: 3, checksum_algorithm: 'md5', parallelism: 8, encrypt_data: false, verify_checksum: true, completion_time: null,
      filter_rules: [{ DATA_TYPE: 'filter_rule', method: 'exclude', name: '*.tmp' }], nice_status: 'GC_NOT_CONNECTED', is_ok: false,
      fatal_error: null, subtasks_total: 1, subtasks_pending: 1,
    });
    expect(doc.request_time).toMatch(GLOBUS_TIME);
    expect(Date.parse(doc.deadline) - Date.parse(doc.request_time)).toBe(24 * 3600_000);
    expect((await call('GET', `/v0.10/task/${r.body.task_id}?fields=status,label`)).body).toEqual({ DATA_TYPE: 'task', status: 'ACTIVE', label: 'nightly' });
  });

  it('encrypt_data: absent means true (unlike Globus), false is kept, force_encryption on either endpoint wins', async () => {
    const encryptOf = async (over: Record<string, unknown>): Promise<unknown> => {
      const r = await call('POST', '/v0.10/transfer', transferBody({ ...over, DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/${Math.random()}`, destination_path: '/~/b' }] }));
      expect(r.status).toBe(202);
      return (await call('GET', `/v0.10/task/${r.body.task_id}`)).body.encrypt_data;
    };
    expect(await encryptOf({})).toBe(true);
    expect(await encryptOf({ encrypt_data: true })).toBe(true);
    expect(await encryptOf({ encrypt_data: false })).toBe(false);
    for (const ep of [w.src, w.dst]) {
      w.store.endpoints.update(ep, { forceEncryption: true });
      expect(await encryptOf({ encrypt_data: false })).toBe(true);
      w.store.endpoints.update(ep, { forceEncryption: false });
    }
  });

  it('rejects bad transfer documents with Globus codes', async () => {
    const bad = async (over: Record<string, unknown>) => (await call('POST', '/v0.10/transfer', transferBody(over))).body.code;
    expect(await bad({ DATA: [] })).toBe('ClientError.BadRequest.NoTransferItems');
    expect((await call('POST', '/v0.10/transfer', transferBody({ DATA: [] }))).status).toBe(400);
    for (const label of ['trailing ', ' leading', 'two\nlines', 'x'.repeat(129)]) expect(await bad({ label }), JSON.stringify(label)).toBe('ClientError.BadRequest');
    for (const over of [{ sync_level: 4 }, { sync_level: 'sometimes' }, { checksum_algorithm: 'crc32' }, { parallelism: 17 }, { perf_p: 0 },
      { deadline: '2001-01-01T00:00:00+00:00' }, { deadline: 'tomorrow' }, { recursive_symlinks: 'keep' }, { DATA_TYPE: 'delete' },
      { DATA: [{ DATA_TYPE: 'transfer_symlink_item', source_path: '/a', destination_path: '/b' }] },
      { DATA: [{ source_path: '/a', destination_path: '/b', external_checksum: 'abc' }] }]) {
      expect(await bad(over), JSON.stringify(over)).toBe('ClientError.BadRequest');
    }
    const stranger = w.store.identities.create({ username: 'stranger@x' }).id;
    const theirs = w.store.endpoints.create({
      ownerId: stranger, displayName: 'theirs', description: null, organization: null, department: null, keywords: null, contactEmail: null,
      contactInfo: null, infoLink: null, defaultDirectory: null, isGlobusConnect: true, public: false,
    }).id;
    expect(await bad({ destination_endpoint: theirs })).toBe('EndpointNotFound');
    expect(await bad({ source_endpoint: 'not-a-uuid' })).toBe('EndpointNotFound');
    expect(w.store.db.prepare('SELECT COUNT(*) AS n FROM tasks').get()).toEqual({ n: 0 });
  });

  it('accepts the options Globus clients send, with Ferry defaults', async () => {
    const r = await call('POST', '/v0.10/transfer', transferBody({
      sync_level: 1, verify_checksum: false, preserve_timestamp: true, notify_on_succeeded: false, perf_cc: 2, deadline: '2999-01-01T00:00:00',
      DATA: [{ source_path: '/~/f', destination_path: '/~/g' }],
    }));
    expect(r.status).toBe(202);
    const t = w.store.tasks.get(r.body.task_id)!;
    expect(t.type === 'TRANSFER' && t.options.session).toEqual({
      syncLevel: 1, verifyChecksum: false, preserveTimestamp: true, deleteDestinationExtra: false, skipSourceErrors: false, failOnQuotaErrors: false,
      checksumAlgorithm: 'xxh128', parallelism: 4,
    });
    expect(t.items).toEqual([{ sourcePath: '/~/f', destinationPath: '/~/g', recursive: null }]);
    expect(t.deadline).toBe(Date.UTC(2999, 0, 1));
    // The same paths again, while the first is still running, is a conflict.
    const clash = await call('POST', '/v0.10/transfer', transferBody({ DATA: [{ source_path: '/~/f', destination_path: '/~/g' }] }));
    expect(clash).toMatchObject({ status: 409, body: { code: 'ClientError.Conflict', message: 'A transfer with identical paths has not yet completed' } });
  });

  it('accepts a delete and lists, filters and pages tasks', async () => {
    const d = await call('POST', '/v0.10/delete', { DATA_TYPE: 'delete', submission_id: 'del-1', endpoint: w.src, recursive: true, DATA: [{ DATA_TYPE: 'delete_item', path: '/~/old' }] });
    expect(d).toMatchObject({ status: 202, body: { DATA_TYPE: 'delete_result', code: 'Accepted' } });
    expect((await call('GET', `/v0.10/task/${d.body.task_id}`)).body).toMatchObject({ type: 'DELETE', source_endpoint_id: w.src, destination_endpoint_id: null, sync_level: null });
    expect((await call('POST', '/v0.10/delete', { endpoint: w.src, DATA: [{ path: '/~/*.tmp' }], interpret_globs: true })).body.code).toBe('ClientError.BadRequest');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await call('POST', '/v0.10/transfer', transferBody({ label: `t${i}`, DATA: [{ source_path: `/~/${i}`, destination_path: `/~/o${i}` }] }))).body.task_id);
    const page = (await call('GET', '/v0.10/task_list?limit=2&offset=1&orderby=label%20ASC')).body;
    expect(page).toMatchObject({ DATA_TYPE: 'task_list', limit: 2, offset: 1, length: 2, total: 4, has_next_page: true });
    expect(page.DATA.map((t: { label: string }) => t.label)).toEqual(['t0', 't1']);
    const del = (await call('GET', '/v0.10/task_list?filter=type:DELETE/status:ACTIVE,INACTIVE')).body;
    expect(del).toMatchObject({ total: 1, has_next_page: false, DATA: [{ task_id: d.body.task_id }] });
    expect((await call('GET', `/v0.10/task_list?filter=task_id:${ids[0]},${ids[2]}`)).body.total).toBe(2);
    expect((await call('GET', '/v0.10/task_list?filter=status:DONE')).status).toBe(400);
    expect((await call('GET', '/v0.10/task_list?filter=owner:me')).status).toBe(400);
    expect((await call('GET', '/v0.10/task_list?orderby=secret')).status).toBe(400);
    expect((await call('GET', '/v0.10/task_list?limit=1001')).status).toBe(400);
  });

  it('hides other owners\' tasks, updates label and deadline while running, and cancels once', async () => {
    const id = (await call('POST', '/v0.10/transfer', transferBody())).body.task_id as string;
    const nosy = w.store.identities.create({ username: 'nosy@x' }).id;
    const nosyToken = w.store.tokens.issue(nosy, [TRANSFER_SCOPE], null).token;
    expect(await call('GET', `/v0.10/task/${id}`, undefined, nosyToken)).toMatchObject({ status: 404, body: { code: 'TaskNotFound' } });
    expect((await call('POST', `/v0.10/task/${id}/cancel`, undefined, nosyToken)).body.code).toBe('TaskNotFound');
    expect((await call('GET', '/v0.10/task/nope')).body.code).toBe('TaskNotFound');

    const upd = await call('PUT', `/v0.10/task/${id}`, { DATA_TYPE: 'task', label: 'renamed', deadline: '2999-06-01T12:00:00+00:00' });
    expect(upd).toMatchObject({ status: 200, body: { DATA_TYPE: 'result', code: 'Updated' } });
    expect((await call('GET', `/v0.10/task/${id}`)).body).toMatchObject({ label: 'renamed', deadline: '2999-06-01T12:00:00+00:00' });
    expect((await call('PUT', `/v0.10/task/${id}`, { label: 'bad\r' })).status).toBe(400);

    expect((await call('POST', `/v0.10/task/${id}/cancel`)).body).toMatchObject({ DATA_TYPE: 'result', code: 'Canceled', message: 'The task has been cancelled successfully.' });
    expect((await call('POST', `/v0.10/task/${id}/cancel`)).body).toMatchObject({ code: 'TaskComplete' });
    const doc = (await call('GET', `/v0.10/task/${id}`)).body;
    expect(doc).toMatchObject({ status: 'FAILED', fatal_error: { code: 'CANCELED' }, nice_status: null, is_ok: null });
    expect(doc.completion_time).toMatch(GLOBUS_TIME);
    expect(await call('PUT', `/v0.10/task/${id}`, { label: 'late' })).toMatchObject({ status: 409, body: { code: 'ClientError.Conflict' } });
  });

  it('lists events (newest first, is_error filter, paging), successful transfers by marker, and pause info', async () => {
    const id = (await call('POST', '/v0.10/transfer', transferBody())).body.task_id as string;
    await call('POST', `/v0.10/task/${id}/cancel`);
    const all = (await call('GET', `/v0.10/task/${id}/event_list`)).body;
    expect(all).toMatchObject({ DATA_TYPE: 'event_list', total: 2, length: 2, offset: 0, limit: 10, has_next_page: false });
    expect(all.DATA[0]).toEqual({ DATA_TYPE: 'event', code: 'CANCELED', is_error: true, description: 'canceled', details: 'Canceled by the task owner', time: expect.stringMatching(GLOBUS_TIME) });
    expect(all.DATA[1].code).toBe('GC_NOT_CONNECTED');
    expect((await call('GET', `/v0.10/task/${id}/event_list?filter=is_error:0`)).body.total).toBe(0);
    expect((await call('GET', `/v0.10/task/${id}/event_list?limit=1&offset=1`)).body).toMatchObject({ length: 1, has_next_page: false, DATA: [{ code: 'GC_NOT_CONNECTED' }] });

    w.store.tasks.addSuccessful(id, [1, 2, 3].map((i) => ({ sourcePath: `/~/in/${i}`, destinationPath: `/~/out/${i}`, size: i, checksum: 'c', checksumAlgorithm: 'sha256' as const })));
    const p1 = (await call('GET', `/v0.10/task/${id}/successful_transfers`)).body;
    expect(p1).toMatchObject({ DATA_TYPE: 'successful_transfers', marker: 0, next_marker: expect.any(Number) });
    expect(p1.DATA[0]).toEqual({ DATA_TYPE: 'successful_transfer', source_path: '/~/in/1', destination_path: '/~/out/1', size: 1, checksum: 'c', checksum_algorithm: 'sha256', dynamic: false });
    const p2 = (await call('GET', `/v0.10/task/${id}/successful_transfers?marker=${p1.next_marker}`)).body;
    expect(p2).toMatchObject({ next_marker: null, DATA: [{ size: 3 }] });

    // skip_source_errors: the agents' `skipped` events, one entry per source path however many attempts saw it.
    const skipped = (path: string, code: string) => ({ time: Date.now(), code, isError: true, description: code.toLowerCase(), details: JSON.stringify({ source_path: path, destination_path: `/~/out${path}`, is_directory: false, skipped: true, message: `${code}: ${path}` }) });
    w.store.tasks.apply(id, {}, [skipped('/a', 'FILE_NOT_FOUND'), skipped('/b', 'PERMISSION_DENIED'), skipped('/a', 'FILE_NOT_FOUND'), { time: Date.now(), code: 'VERIFY_CHECKSUM', isError: true, description: 'x', details: '{"source_path":"/c"}' }]);
    const s1 = (await call('GET', `/v0.10/task/${id}/skipped_errors`)).body;
    expect(s1).toMatchObject({ DATA_TYPE: 'skipped_errors', marker: 0, next_marker: null });
    expect(s1.DATA).toEqual([
      { DATA_TYPE: 'skipped_error', error_code: 'FILE_NOT_FOUND', error_details: 'FILE_NOT_FOUND: /a', error_time: expect.stringMatching(GLOBUS_TIME), source_path: '/a', destination_path: '/~/out/a', is_directory: false, is_symlink: false, is_delete_destination_extra: false, external_checksum: null, checksum_algorithm: null },
      expect.objectContaining({ error_code: 'PERMISSION_DENIED', source_path: '/b' }),
    ]);

    expect((await call('GET', `/v0.10/task/${id}/pause_info`)).body).toEqual({
      DATA_TYPE: 'pause_info_limited', pause_rules: [], source_pause_message: null, destination_pause_message: null,
      source_pause_message_share: null, destination_pause_message_share: null,
    });
  });
});
