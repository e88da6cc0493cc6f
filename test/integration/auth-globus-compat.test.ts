import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { https } from './auth/helpers.js';

/** The first calls existing Globus clients make: autoactivate, ls defaults and filters, error codes. */
describe('Globus clients\' first calls', () => {
  const dir = tempDir();
  const home = join(dir.path, 'home');
  let control: ControlHandle;
  let agent: AgentHandle;
  let token: string;
  const call = (method: string, path: string, body?: unknown) => https(method, `${control.url}${path}`, control.caPem, {
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { json: body }),
  }).then((a) => ({ status: a.status, body: JSON.parse(a.body) }));

  beforeAll(async () => {
    mkdirSync(join(home, 'data'), { recursive: true });
    writeFileSync(join(home, 'data', 'a.txt'), 'a');
    writeFileSync(join(home, 'data', 'b.csv'), 'b');
    writeFileSync(join(home, 'data', 'c.bin'), 'c');
    writeFileSync(join(home, 'top.txt'), 't');
    control = await startControl(join(dir.path, 'control'));
    const user = await control.user('compat@example.org');
    token = user.token;
    agent = await startAgent(user.client, join(dir.path, 'agent'), [`${home}:rw`], 'compat endpoint');
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it('answers autoactivate with AlreadyActivated and empty activation requirements', async () => {
    const a = await call('POST', `/v0.10/endpoint/${agent.endpointId}/autoactivate`);
    expect(a).toMatchObject({ status: 200, body: { DATA_TYPE: 'activation_result', code: 'AlreadyActivated', endpoint: agent.endpointId, expires_in: -1, DATA: [] } });
    const r = await call('GET', `/v0.10/endpoint/${agent.endpointId}/activation_requirements`);
    expect(r.body).toMatchObject({ DATA_TYPE: 'activation_requirements', activated: true, auto_activation_supported: true, DATA: [] });
    expect((await call('POST', '/v0.10/endpoint/00000000-0000-4000-8000-000000000000/autoactivate')).body.code).toBe('EndpointNotFound');
  });

  it('ORs repeated ls filters, knows = and !=, and lists default_directory without a path', async () => {
    const base = `/v0.10/operation/endpoint/${agent.endpointId}/ls?path=/~/data/`;
    const names = (b: { DATA: Array<{ name: string }> }) => b.DATA.map((f) => f.name).sort();
    expect(names((await call('GET', `${base}&filter=name:=a.txt&filter=name:~*.csv`)).body)).toEqual(['a.txt', 'b.csv']);
    expect(names((await call('GET', `${base}&filter=name:!=a.txt`)).body)).toEqual(['b.csv', 'c.bin']);
    expect((await call('GET', `/v0.10/operation/endpoint/${agent.endpointId}/ls`)).body.path).toBe('/~/');
    expect((await call('PUT', `/v0.10/endpoint/${agent.endpointId}`, { DATA_TYPE: 'endpoint', default_directory: '/~/data/' })).status).toBe(200);
    const ls = await call('GET', `/v0.10/operation/endpoint/${agent.endpointId}/ls`);
    expect(ls.body.path).toBe('/~/data/');
    expect(names(ls.body)).toEqual(['a.txt', 'b.csv', 'c.bin']);
  });

  it('answers stat of a missing path with NotFound, as Globus does', async () => {
    const s = await call('GET', `/v0.10/operation/endpoint/${agent.endpointId}/stat?path=/~/missing`);
    expect(s).toMatchObject({ status: 404, body: { code: 'NotFound' } });
  });

  it('filters task_list by label over HTTP: =, none, !, ~ and !~, and with other clauses', async () => {
    let n = 0;
    const submit = async (label?: string): Promise<string> => {
      n += 1;
      const r = await call('POST', '/v0.10/transfer', {
        DATA_TYPE: 'transfer', source_endpoint: agent.endpointId, destination_endpoint: agent.endpointId, ...(label === undefined ? {} : { label }),
        DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/top.txt', destination_path: `/~/label-copies/${n}.txt` }],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return r.body.task_id as string;
    };
    const nightly = await submit('nightly backup');
    const weekly = await submit('weekly');
    const unlabeled = await submit();
    const listed = async (filter: string): Promise<string[]> => {
      const r = await call('GET', `/v0.10/task_list?limit=100&filter=${encodeURIComponent(filter)}`);
      expect(r.status, `${filter}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body).toMatchObject({ DATA_TYPE: 'task_list', total: r.body.DATA.length });
      return (r.body.DATA as Array<{ task_id: string }>).map((t) => t.task_id).sort();
    };
    expect(await listed('label:=weekly')).toEqual([weekly]);
    expect(await listed('label:weekly')).toEqual([weekly]);
    expect(await listed('label:=nightly backup,weekly')).toEqual([nightly, weekly].sort());
    // Negative filters keep tasks without a label.
    expect(await listed('label:!weekly')).toEqual([nightly, unlabeled].sort());
    expect(await listed('label:~NIGHT')).toEqual([nightly]);
    expect(await listed('label:!~night')).toEqual([weekly, unlabeled].sort());
    expect(await listed('type:TRANSFER/label:!~week')).toEqual([nightly, unlabeled].sort());
    expect(await listed('type:DELETE/label:=weekly')).toEqual([]);
    const bad = await call('GET', `/v0.10/task_list?filter=${encodeURIComponent('labels:=weekly')}`);
    expect(bad).toMatchObject({ status: 400, body: { code: 'ClientError.BadRequest' } });
  });
});
