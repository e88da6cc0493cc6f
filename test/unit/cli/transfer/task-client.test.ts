import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../../src/cli/api-client.js';
import { TaskClient } from '../../../../src/cli/task-client.js';
import { FerryError } from '../../../../src/common/errors.js';
import { makeTestPki, sendJson, startFakeControl, type FakeControl, type TestPki } from '../tls-fixture.js';
import { TASK } from './harness.js';

let pki: TestPki;
let control: FakeControl;
const clients: ApiClient[] = [];

function tasks(): TaskClient {
  const api = new ApiClient({ url: control.url, token: 'tok', ca: pki.caPem });
  clients.push(api);
  return new TaskClient(api);
}

beforeAll(async () => {
  pki = makeTestPki();
  control = await startFakeControl(pki, (_req, res) => sendJson(res, 500, { code: 'InternalError', message: 'no handler' }));
});
afterAll(async () => { await control.close(); });
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  control.requests.length = 0;
});

describe('TaskClient', () => {
  it('uses the Globus routes and query parameters', async () => {
    control.handle = (req, res) => {
      const p = req.url.pathname;
      if (p.endsWith('/event_list')) sendJson(res, 200, { DATA_TYPE: 'event_list', DATA: [] });
      else if (p.endsWith('/cancel')) sendJson(res, 200, { DATA_TYPE: 'result', code: 'Canceled', message: 'ok' });
      else if (p === '/v0.10/task_list') sendJson(res, 200, { DATA_TYPE: 'task_list', DATA: [] });
      else sendJson(res, 200, { DATA_TYPE: 'task', task_id: TASK, type: 'TRANSFER', status: 'ACTIVE' });
    };
    const t = tasks();
    await t.get(TASK);
    await t.list({ limit: 3, filter: 'status:ACTIVE', orderby: undefined });
    await t.cancel(TASK);
    await t.events(TASK, { filter: 'is_error:1' });
    expect(control.requests.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)).toEqual([
      `GET /v0.10/task/${TASK}`,
      'GET /v0.10/task_list?limit=3&filter=status%3AACTIVE',
      `POST /v0.10/task/${TASK}/cancel`,
      `GET /v0.10/task/${TASK}/event_list?filter=is_error%3A1`,
    ]);
  });

  it('refuses documents of the wrong kind or without the fields the CLI needs', async () => {
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'endpoint', id: 'x' });
    await expect(tasks().get(TASK)).rejects.toThrow("control answered with DATA_TYPE \"endpoint\" where 'task' was expected");
    control.handle = (_req, res) => sendJson(res, 200, { DATA_TYPE: 'submission_id' });
    await expect(tasks().submissionId()).rejects.toBeInstanceOf(FerryError);
    control.handle = (_req, res) => sendJson(res, 202, { DATA_TYPE: 'transfer_result', code: 'Accepted', message: 'ok' });
    await expect(tasks().submitTransfer('s', { source_endpoint: 'a', destination_endpoint: 'b', DATA: [] })).rejects.toThrow('sent no task_id');
  });
});
