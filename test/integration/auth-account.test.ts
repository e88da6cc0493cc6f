import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { ferryJson, https, type HttpAnswer } from './auth/helpers.js';
import { runFerry } from '../helpers/process.js';

/**
 * "A token carries the account, and everything that an account's identity may do, the account
 * may do": endpoints and tasks that identity B made before B was linked into A's account are
 * the account's afterwards, for A's token as for B's; an unlinked identity C still sees none.
 */
describe("an account's linked identities share their endpoints and tasks", () => {
  const dir = tempDir();
  const root = join(dir.path, 'root-b');
  let control: ControlHandle;
  let agent: AgentHandle | undefined;
  const ids: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
  const tokens: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
  /** B's endpoint with an agent, B's endpoint without one, and B's transfer between them (waits for the second agent). */
  let epWithAgent: string;
  let epOffline: string;
  let taskB: string;

  const call = async (who: 'a' | 'b' | 'c', method: string, path: string, json?: unknown): Promise<HttpAnswer & { json: any }> => {
    const a = await https(method, `${control.url}${path}`, control.caPem, { headers: { authorization: `Bearer ${tokens[who]}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) }, ...(json === undefined ? {} : { json }) });
    let parsed: unknown;
    try { parsed = JSON.parse(a.body); } catch { parsed = undefined; }
    return { ...a, json: parsed };
  };

  beforeAll(async () => {
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(join(root, 'data', 'b.txt'), 'made by b');
    control = await startControl(join(dir.path, 'control'));
    for (const [who, name] of [['a', 'ann@example.org'], ['b', 'ben@example.org'], ['c', 'cyd@example.org']] as const) {
      const u = await control.user(name);
      ids[who] = u.identityId;
      tokens[who] = u.token;
    }
    // B's endpoints and task, made while B is an account of its own.
    const clientB = new ApiClient({ url: control.url, token: tokens.b, ca: control.caPem });
    try {
      agent = await startAgent(clientB, join(dir.path, 'agent-b'), [`${root}:rw:share`], 'ben lab');
      epWithAgent = agent.endpointId;
      epOffline = (await clientB.endpointCreate({ display_name: 'ben laptop', is_globus_connect: true })).id;
    } finally {
      clientB.close();
    }
    const sub = await call('b', 'POST', '/v0.10/transfer', {
      DATA_TYPE: 'transfer', source_endpoint: epWithAgent, destination_endpoint: epOffline, label: 'ben before linking',
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data/b.txt', destination_path: '/~/b.txt' }],
    });
    expect(sub.status, sub.body).toBe(202);
    taskB = sub.json.task_id;
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.stop();
    dir.cleanup();
  });

  it("before linking, A cannot see B's endpoint or task", async () => {
    expect((await call('a', 'GET', `/v0.10/endpoint/${epWithAgent}`)).status).toBe(404);
    expect((await call('a', 'GET', `/v0.10/task/${taskB}`)).status).toBe(404);
    expect((await call('a', 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints')).json.DATA).toEqual([]);
  });

  it("after `ferry control identity link`, A's token sees and manages what B made", async () => {
    const linked = await ferryJson<{ identities: Array<{ id: string }> }>(['control', 'identity', 'link', '--data-dir', control.dataDir, '--username', 'ann@example.org', '--other', 'ben@example.org']);
    expect(linked.identities.map((i) => i.id).sort()).toEqual([ids.a, ids.b].sort());

    // Endpoints: get, search (my-endpoints), update, file operations.
    const ep = await call('a', 'GET', `/v0.10/endpoint/${epWithAgent}`);
    expect(ep.status, ep.body).toBe(200);
    expect(ep.json).toMatchObject({ id: epWithAgent, owner_id: ids.b, my_effective_roles: ['administrator'], acl_editable: true });
    const mine = await call('a', 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints');
    expect(mine.json.DATA.map((e: { id: string }) => e.id).sort()).toEqual([epWithAgent, epOffline].sort());
    const found = await call('a', 'GET', '/v0.10/endpoint_search?filter_fulltext=ben');
    expect(found.json.DATA.map((e: { id: string }) => e.id).sort()).toEqual([epWithAgent, epOffline].sort());
    const renamed = await call('a', 'PUT', `/v0.10/endpoint/${epOffline}`, { DATA_TYPE: 'endpoint', display_name: 'ben laptop (ann)' });
    expect(renamed.status, renamed.body).toBe(200);
    expect((await call('b', 'GET', `/v0.10/endpoint/${epOffline}`)).json.display_name).toBe('ben laptop (ann)');
    const ls = await call('a', 'GET', `/v0.10/operation/endpoint/${epWithAgent}/ls?path=/~/data/`);
    expect(ls.status, ls.body).toBe(200);
    expect(ls.json.DATA.map((f: { name: string }) => f.name)).toEqual(['b.txt']);
    const mkdir = await call('a', 'POST', `/v0.10/operation/endpoint/${epWithAgent}/mkdir`, { DATA_TYPE: 'mkdir', path: '/~/from-ann' });
    expect(mkdir.status, mkdir.body).toBe(202);

    // Tasks: list, get, events, successful transfers, pause info.
    const list = await call('a', 'GET', '/v0.10/task_list?limit=100');
    expect(list.json.DATA.map((t: { task_id: string }) => t.task_id)).toEqual([taskB]);
    const task = await call('a', 'GET', `/v0.10/task/${taskB}`);
    expect(task.status, task.body).toBe(200);
    expect(task.json).toMatchObject({ task_id: taskB, owner_id: ids.b, status: 'ACTIVE', label: 'ben before linking' });
    expect((await call('a', 'GET', `/v0.10/task/${taskB}/event_list`)).status).toBe(200);
    expect((await call('a', 'GET', `/v0.10/task/${taskB}/successful_transfers`)).json).toMatchObject({ DATA_TYPE: 'successful_transfers', DATA: [] });
    expect((await call('a', 'GET', `/v0.10/task/${taskB}/pause_info`)).status).toBe(200);
    const relabeled = await call('a', 'PUT', `/v0.10/task/${taskB}`, { DATA_TYPE: 'task', label: 'relabeled by ann' });
    expect(relabeled.status, relabeled.body).toBe(200);

    // Submission between the account's endpoints: the new task is owned by the primary identity (A).
    const sub = await call('a', 'POST', '/v0.10/transfer', {
      DATA_TYPE: 'transfer', source_endpoint: epWithAgent, destination_endpoint: epOffline, label: 'ann after linking',
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data/', destination_path: '/~/copy/', recursive: true }],
    });
    expect(sub.status, sub.body).toBe(202);
    const taskA = sub.json.task_id as string;
    expect((await call('a', 'GET', `/v0.10/task/${taskA}`)).json.owner_id).toBe(ids.a);
    // B's token is the account's too: it sees the task A submitted.
    const listB = await call('b', 'GET', '/v0.10/task_list?limit=100');
    expect(listB.json.DATA.map((t: { task_id: string }) => t.task_id).sort()).toEqual([taskA, taskB].sort());
    expect((await call('b', 'GET', `/v0.10/task/${taskA}`)).status).toBe(200);

    // The unlinked identity C sees none of it.
    expect((await call('c', 'GET', `/v0.10/endpoint/${epWithAgent}`)).json).toMatchObject({ code: 'EndpointNotFound' });
    expect((await call('c', 'GET', `/v0.10/endpoint/${epWithAgent}`)).status).toBe(404);
    expect((await call('c', 'PUT', `/v0.10/endpoint/${epOffline}`, { DATA_TYPE: 'endpoint', display_name: 'cyd' })).status).toBe(404);
    expect((await call('c', 'DELETE', `/v0.10/endpoint/${epOffline}`)).status).toBe(404);
    expect((await call('c', 'GET', `/v0.10/operation/endpoint/${epWithAgent}/ls?path=/~/`)).status).toBe(404);
    expect((await call('c', 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints')).json.DATA).toEqual([]);
    expect((await call('c', 'GET', '/v0.10/endpoint_search?filter_fulltext=ben')).json.DATA).toEqual([]);
    expect((await call('c', 'GET', '/v0.10/task_list?limit=100')).json.DATA).toEqual([]);
    for (const t of [taskA, taskB]) {
      const got = await call('c', 'GET', `/v0.10/task/${t}`);
      expect(got.status).toBe(404);
      expect(got.json).toMatchObject({ code: 'TaskNotFound' });
      expect((await call('c', 'POST', `/v0.10/task/${t}/cancel`)).status).toBe(404);
      expect((await call('c', 'GET', `/v0.10/task/${t}/event_list`)).status).toBe(404);
      expect((await call('c', 'GET', `/v0.10/task/${t}/successful_transfers`)).status).toBe(404);
    }
    const cSub = await call('c', 'POST', '/v0.10/transfer', {
      DATA_TYPE: 'transfer', source_endpoint: epWithAgent, destination_endpoint: epOffline,
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data/b.txt', destination_path: '/~/c.txt' }],
    });
    expect(cSub.status).toBe(404);

    // A cancels B's task and A's own, then deletes B's endpoint.
    for (const t of [taskB, taskA]) {
      const cancel = await call('a', 'POST', `/v0.10/task/${t}/cancel`);
      expect(cancel.status, cancel.body).toBe(200);
      expect(cancel.json.code).toBe('Canceled');
    }
    expect((await call('b', 'GET', `/v0.10/task/${taskB}`)).json).toMatchObject({ status: 'FAILED', label: 'relabeled by ann' });
    const del = await call('a', 'DELETE', `/v0.10/endpoint/${epOffline}`);
    expect(del.status, del.body).toBe(200);
    expect((await call('a', 'GET', '/v0.10/endpoint_search?filter_scope=my-endpoints')).json.DATA.map((e: { id: string }) => e.id)).toEqual([epWithAgent]);
  });

  it("grants Transfer access and group membership through a linked identity's groups", async () => {
    // dan's group (a university identity, dan2, is its member), an access rule and a role for that group on a guest collection of the account's endpoint.
    const [dan, dan2] = await Promise.all([control.user('dan@example.org'), control.user('dan@uni.example')]);
    const groupsToken = async (username: string) => {
      const r = await runFerry(['control', 'token', 'issue', '--data-dir', control.dataDir, '--username', username, '--resource-server', 'groups.api.globus.org']);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const [danGroups, dan2Groups] = await Promise.all([groupsToken('dan@example.org'), groupsToken('dan@uni.example')]);
    const groupsCall = (token: string, method: string, path: string, json?: unknown) => https(method, `${control.url}${path}`, control.caPem, {
      headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) }, ...(json === undefined ? {} : { json }),
    }).then((a) => ({ status: a.status, json: JSON.parse(a.body) }));
    const made = await groupsCall(dan2Groups, 'POST', '/v2/groups', { name: 'uni lab' });
    expect(made.status, JSON.stringify(made.json)).toBe(201);
    const groupId = made.json.id as string;

    const guest = await call('a', 'POST', '/v0.10/shared_endpoint', { DATA_TYPE: 'shared_endpoint', host_endpoint: epWithAgent, host_path: '/~/data/', display_name: 'ann shares' });
    expect(guest.status, guest.body).toBe(201);
    const guestId = guest.json.id as string;
    const rule = await call('a', 'POST', `/v0.10/endpoint/${guestId}/access`, { DATA_TYPE: 'access', principal_type: 'group', principal: groupId, path: '/', permissions: 'r' });
    expect(rule.status, rule.body).toBe(201);
    const role = await call('a', 'POST', `/v0.10/endpoint/${guestId}/role`, { DATA_TYPE: 'role', principal_type: 'group', principal: groupId, role: 'activity_monitor' });
    expect(role.status, role.body).toBe(201);
    const asDan = (who: { token: string }, path: string) => https('GET', `${control.url}${path}`, control.caPem, { headers: { authorization: `Bearer ${who.token}` } })
      .then((a) => ({ status: a.status, json: JSON.parse(a.body) }));

    // dan2 is in the group: it lists the guest collection and holds the group's role.
    const ls2 = await asDan(dan2, `/v0.10/operation/endpoint/${guestId}/ls?path=/`);
    expect(ls2.status, JSON.stringify(ls2.json)).toBe(200);
    expect(ls2.json.DATA.map((f: { name: string }) => f.name)).toEqual(['b.txt']);
    expect((await asDan(dan2, `/v0.10/endpoint/${guestId}`)).json.my_effective_roles).toEqual(['activity_monitor']);
    // dan, not linked yet, is not.
    const before = await asDan(dan, `/v0.10/operation/endpoint/${guestId}/ls?path=/`);
    expect(before).toMatchObject({ status: 403, json: { code: 'EndpointPermissionDenied' } });
    expect((await asDan(dan, `/v0.10/endpoint/${guestId}`)).json.my_effective_roles).toEqual([]);
    expect((await groupsCall(danGroups, 'GET', '/v2/groups/my_groups')).json).toEqual([]);
    expect((await groupsCall(danGroups, 'GET', `/v2/groups/${groupId}`)).status).toBe(404);

    await ferryJson(['control', 'identity', 'link', '--data-dir', control.dataDir, '--username', 'dan@example.org', '--other', 'dan@uni.example']);

    // Linked: dan's own tokens (Transfer and Groups) carry the group of dan2.
    const after = await asDan(dan, `/v0.10/operation/endpoint/${guestId}/ls?path=/`);
    expect(after.status, JSON.stringify(after.json)).toBe(200);
    expect(after.json.DATA.map((f: { name: string }) => f.name)).toEqual(['b.txt']);
    expect((await asDan(dan, `/v0.10/endpoint/${guestId}`)).json.my_effective_roles).toEqual(['activity_monitor']);
    const mine = await groupsCall(danGroups, 'GET', '/v2/groups/my_groups');
    expect(mine.json.map((g: { id: string }) => g.id)).toEqual([groupId]);
    expect(mine.json[0].my_memberships).toEqual([expect.objectContaining({ identity_id: dan2.identityId, role: 'admin', status: 'active' })]);
    // Read access only: the group's rule is 'r'.
    const mkdir = await https('POST', `${control.url}/v0.10/operation/endpoint/${guestId}/mkdir`, control.caPem, {
      headers: { authorization: `Bearer ${dan.token}`, 'content-type': 'application/json' }, json: { DATA_TYPE: 'mkdir', path: '/dan-was-here' },
    });
    expect(mkdir.status, mkdir.body).toBe(403);
    // An unlinked identity outside the group still gets nothing.
    expect((await call('c', 'GET', `/v0.10/operation/endpoint/${guestId}/ls?path=/`)).status).toBe(403);
  });
});
