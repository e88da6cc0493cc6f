import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupRepo } from '../../src/control/auth/groups.js';
import { openDatabase, type Db } from '../../src/control/store/db.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Control's side of sharing (issue 12): guest collections, access rules, roles, endpoint
 * search scopes, publishing to the host's agent, and access-rule notifications through a real
 * SMTP server. Real control and agent processes on loopback, real SQLite. What the agent then
 * allows or refuses is its own business (its tests); here only what control decides and shows.
 */

type Json = Record<string, unknown>;
interface User { token: string; identityId: string }

const SMTP_USER = 'ferry-mailer';
const SMTP_PASSWORD = 'smtp-secret-do-not-log-7d2f';

function call(control: ControlHandle, who: User, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${who.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request(new URL(path, control.url), { method, ca: control.caPem, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => {
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Json }); } catch { reject(new Error(`not JSON (${res.statusCode}): ${text}`)); }
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

/** Control's pino lines with this msg, parsed. */
function logLines(control: ControlHandle, msg: string): Json[] {
  return control.proc.stderr().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Json);
}

describe('sharing on control: guest collections, access rules, roles, publishing', () => {
  const dir = tempDir('ferry-sharing-control-');
  const shareRoot = join(dir.path, 'share-root');
  const privateRoot = join(dir.path, 'private-root');
  let control: ControlHandle;
  let smtp: TestSmtp;
  let agent: AgentHandle;
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;
  let db: Db;
  let mapped: string;
  let guest: string;

  const as = (who: User, method: string, path: string, body?: unknown) => call(control, who, method, path, body);

  beforeAll(async () => {
    mkdirSync(join(shareRoot, 'proj', 'data'), { recursive: true });
    writeFileSync(join(shareRoot, 'proj', 'data', 'f.txt'), 'hello');
    writeFileSync(join(shareRoot, 'file.txt'), 'not a directory');
    mkdirSync(join(privateRoot, 'secret'), { recursive: true });
    smtp = await startSmtp(SMTP_USER, SMTP_PASSWORD);
    const controlDir = join(dir.path, 'control');
    const configFile = join(dir.path, 'control.json');
    writeFileSync(configFile, JSON.stringify({
      version: 1, dataDir: controlDir,
      tasks: { tickMs: 100 },
      smtp: { host: '127.0.0.1', port: smtp.port, from: 'Ferry <ferry@ferry.test>', user: SMTP_USER, password: SMTP_PASSWORD, retryInitialMs: 50, pollMs: 100 },
    }));
    control = await startControl(controlDir, ['--config', configFile]);
    const mk = async (name: string): Promise<User> => {
      const u = await control.user(name);
      return { token: u.token, identityId: u.identityId };
    };
    alice = await mk('alice@example.org');
    bob = await mk('bob@example.org');
    carol = await mk('carol@example.org');
    dave = await mk('dave@example.org');
    // alice's endpoint: the first root is shareable ('/~/'), the second is not.
    const { ApiClient } = await import('../../src/cli/api-client.js');
    const client = new ApiClient({ url: control.url, token: alice.token, ca: control.caPem });
    agent = await startAgent(client, join(dir.path, 'agent'), [`${shareRoot}:rw:share`, `${privateRoot}:rw`], 'alice laptop');
    client.close();
    mapped = agent.endpointId;
    await control.proc.waitForLog(/"msg":"agent connected"/);
    // Control sends the agent a snapshot once it is connected (logged asynchronously: waited for).
    await control.proc.waitForLog(/"msg":"sharing snapshot sent"/);
    db = openDatabase(join(controlDir, 'control.db'));
  }, 120_000);

  afterAll(async () => {
    db?.close();
    await agent?.stop();
    await control?.stop();
    await smtp?.close();
    dir.cleanup();
  });

  it('creates a guest collection only on a shareable directory of a connected agent, for the host owner', async () => {
    const base = { DATA_TYPE: 'shared_endpoint', host_endpoint: mapped, display_name: 'alice proj', description: 'for bob' };
    const notShareable = await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: `${privateRoot}/secret/` });
    expect(notShareable.status).toBe(403);
    expect(notShareable.json['code']).toBe('Sharing.NotShareable');
    // '..' that climbs out of '/~/' is refused, and so is one that climbs into the private root.
    expect((await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: '/~/../x/' })).status).toBe(400);
    expect((await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: `${shareRoot}/../private-root/secret/` })).json['code']).toBe('Sharing.NotShareable');
    // Not a directory, missing: the agent's stat decides.
    const file = await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: '/~/file.txt' });
    expect(file.status).toBe(400);
    expect((await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: '/~/missing/' })).status).toBe(404);
    // bob cannot even see alice's private endpoint; an endpoint without an agent cannot share.
    expect((await as(bob, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: '/~/proj/' })).json['code']).toBe('EndpointNotFound');
    const offline = await as(alice, 'POST', '/v0.10/endpoint', { display_name: 'no agent', is_globus_connect: true });
    const off = await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_endpoint: offline.json['id'], host_path: '/~/proj/' });
    expect(off.status).toBe(502);
    expect(off.json['code']).toBe('ExternalError.GCDisconnected');

    const created = await as(alice, 'POST', '/v0.10/shared_endpoint', { ...base, host_path: '/~/proj/./' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ DATA_TYPE: 'endpoint_create_result', code: 'Created', globus_connect_setup_key: null, message: 'Shared endpoint created', resource: '/v0.10/shared_endpoint' });
    guest = created.json['id'] as string;
    // The JS SDK's spelling, without DATA_TYPE.
    const second = await as(alice, 'POST', '/v0.10/shared_endpoint', { host_endpoint_id: mapped, host_path: `${shareRoot}/proj/data`, display_name: 'alice data' });
    expect(second.status).toBe(201);
  });

  it('shows guest collections with their host, path, roles and state', async () => {
    const doc = (await as(alice, 'GET', `/v0.10/endpoint/${guest}`)).json;
    expect(doc).toMatchObject({
      DATA_TYPE: 'endpoint', id: guest, entity_type: 'GCP_guest_collection', owner_id: alice.identityId, public: true,
      host_endpoint_id: mapped, host_endpoint: mapped, host_endpoint_display_name: 'alice laptop', host_path: '/~/proj/',
      sharing_target_endpoint: mapped, sharing_target_root_path: '/~/proj/', my_effective_roles: ['administrator'],
      gcp_connected: true, non_functional: false, acl_editable: true,
    });
    // Public: others see it, with no roles.
    // ... but where it lies on its host is only for those who manage it.
    expect((await as(bob, 'GET', `/v0.10/endpoint/${guest}`)).json).toMatchObject({
      id: guest, my_effective_roles: [], acl_editable: false, host_endpoint_id: mapped, host_path: null, sharing_target_root_path: null, host_endpoint_display_name: null,
    });
    expect((await as(alice, 'GET', `/v0.10/endpoint/${mapped}`)).json).toMatchObject({ entity_type: 'GCP_mapped_collection', host_endpoint_id: null });
  });

  it('manages access rules: who may, shapes, validation, duplicates, update and delete', async () => {
    expect((await as(bob, 'GET', `/v0.10/endpoint/${guest}/access_list`)).json['code']).toBe('PermissionDenied');
    expect((await as(bob, 'POST', `/v0.10/endpoint/${guest}/access`, { principal_type: 'identity', principal: bob.identityId, path: '/', permissions: 'rw' })).status).toBe(403);
    expect((await as(alice, 'GET', `/v0.10/endpoint/${mapped}/access_list`)).status).toBe(409);

    const rule = { principal_type: 'identity', principal: bob.identityId, path: '/data', permissions: 'r' };
    const created = await as(alice, 'POST', `/v0.10/endpoint/${guest}/access`, rule);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ DATA_TYPE: 'access_create_result', code: 'Created', message: 'Access rule created successfully.', resource: `/v0.10/endpoint/${guest}/access` });
    const ruleId = created.json['access_id'] as string;
    expect(ruleId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await as(alice, 'POST', `/v0.10/endpoint/${guest}/access`, { ...rule, DATA_TYPE: 'access', path: '/data/' })).json['code']).toBe('Exists');

    for (const bad of [
      { ...rule, path: '/data/../x' }, { ...rule, path: 'data' }, { ...rule, path: '/./data' }, { ...rule, permissions: 'w' },
      { ...rule, principal: '00000000-0000-4000-8000-000000000000' }, { ...rule, principal_type: 'anonymous' },
      { ...rule, path: '/later/', expiration_date: '2001-01-01T00:00:00+00:00' }, { ...rule, path: '/later/', expiration_date: 'tomorrow' },
      { ...rule, path: '/bell\u0007/' }, { ...rule, path: `/${'x'.repeat(256)}/` }, { ...rule, path: '/abc'.repeat(300) },
    ]) {
      const r = await as(alice, 'POST', `/v0.10/endpoint/${guest}/access`, bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    const everyone = await as(alice, 'POST', `/v0.10/endpoint/${guest}/access`, { principal_type: 'all_authenticated_users', principal: '', path: '/pub/', permissions: 'r', expiration_date: '2999-01-01T00:00:00Z' });
    expect(everyone.status).toBe(201);

    const got = (await as(alice, 'GET', `/v0.10/endpoint/${guest}/access/${ruleId}`)).json;
    expect(got).toMatchObject({ DATA_TYPE: 'access', id: ruleId, role_id: null, role_type: null, principal_type: 'identity', principal: bob.identityId, path: '/data/', permissions: 'r', expiration_date: null });
    expect(got['create_time']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
    expect(got).not.toHaveProperty('notify_email');

    const list = (await as(alice, 'GET', `/v0.10/endpoint/${guest}/access_list`)).json;
    expect(list).toMatchObject({ DATA_TYPE: 'access_list', endpoint: guest, length: 3 });
    const data = list['DATA'] as Json[];
    expect(data[0]).toMatchObject({ id: null, role_id: null, principal_type: 'identity', principal: alice.identityId, path: '/', permissions: 'rw' });
    expect(data.filter((d) => d['id'] !== null).map((d) => d['path']).sort()).toEqual(['/data/', '/pub/']);
    expect(data.find((d) => d['path'] === '/pub/')).toMatchObject({ principal_type: 'all_authenticated_users', principal: '', expiration_date: '2999-01-01T00:00:00+00:00' });

    const updated = await as(alice, 'PUT', `/v0.10/endpoint/${guest}/access/${ruleId}`, { ...got, permissions: 'rw' });
    expect(updated.json).toMatchObject({ DATA_TYPE: 'result', code: 'Updated', message: `Access rule '${ruleId}' updated successfully` });
    expect((await as(alice, 'GET', `/v0.10/endpoint/${guest}/access/${ruleId}`)).json['permissions']).toBe('rw');
    expect((await as(alice, 'PUT', `/v0.10/endpoint/${guest}/access/${ruleId}`, { path: '/elsewhere/' })).status).toBe(400);

    const everyoneId = everyone.json['access_id'] as string;
    expect((await as(alice, 'DELETE', `/v0.10/endpoint/${guest}/access/${everyoneId}`)).json).toMatchObject({ DATA_TYPE: 'result', code: 'Deleted' });
    const gone = await as(alice, 'GET', `/v0.10/endpoint/${guest}/access/${everyoneId}`);
    expect(gone.status).toBe(404);
    expect(gone.json['code']).toBe('AccessRuleNotFound');
    expect((await as(alice, 'GET', `/v0.10/endpoint/${guest}/access/not-a-rule`)).json['code']).toBe('AccessRuleNotFound');
  });

  it('publishes every change with a bumped version of the host, and the agent acks it', async () => {
    // The last change's line may still be on its way (control logs asynchronously; pino puts a
    // line's fields before its "msg").
    await control.proc.waitForLog(/"change":"rule deleted".*"msg":"sharing update published"/);
    const published = logLines(control, 'sharing update published').filter((l) => l['hostEndpointId'] === mapped);
    // 2 collections, 2 rules created, 1 update, 1 delete.
    expect(published.map((l) => l['change'])).toEqual(['collection created', 'collection created', 'rule created', 'rule created', 'rule updated', 'rule deleted']);
    published.forEach((l, i) => {
      expect(l['version']).toBe(i + 1);
      expect(l['baseVersion']).toBe(i);
    });
    expect(published[2]!['collections']).toEqual([guest]);
    const last = published.at(-1)!['version'] as number;
    expect(published.every((l) => (l['nodes'] as string[]).length === 1)).toBe(true);
    await control.proc.waitForLog(new RegExp(`^(?=.*"msg":"sharing acked")(?=.*"version":${last}[,}])`));
  });

  it('lets the owner give roles; access managers manage rules, monitors do not, groups count', async () => {
    const mgr = await as(alice, 'POST', `/v0.10/endpoint/${guest}/role`, { DATA_TYPE: 'role', principal_type: 'identity', principal: carol.identityId, role: 'access_manager' });
    expect(mgr.status).toBe(201);
    expect(mgr.json).toMatchObject({ DATA_TYPE: 'role', principal_type: 'identity', principal: carol.identityId, role: 'access_manager' });
    const mgrId = mgr.json['id'] as string;
    expect((await as(alice, 'POST', `/v0.10/endpoint/${guest}/role`, { principal_type: 'identity', principal: carol.identityId, role: 'access_manager' })).json['code']).toBe('Exists');
    expect((await as(alice, 'POST', `/v0.10/endpoint/${mapped}/role`, { principal_type: 'identity', principal: carol.identityId, role: 'access_manager' })).json['code']).toBe('ClientError.Conflict');
    const monitor = await as(alice, 'POST', `/v0.10/endpoint/${guest}/role`, { principal_type: 'identity', principal: bob.identityId, role: 'activity_monitor' });
    expect(monitor.status).toBe(201);

    // carol manages rules now, but not roles; bob (monitor) neither.
    const byCarol = await as(carol, 'POST', `/v0.10/endpoint/${guest}/access`, { principal_type: 'identity', principal: dave.identityId, path: '/', permissions: 'r' });
    expect(byCarol.status).toBe(201);
    expect((await as(carol, 'GET', `/v0.10/endpoint/${guest}/role_list`)).json['code']).toBe('PermissionDenied');
    expect((await as(bob, 'GET', `/v0.10/endpoint/${guest}/access_list`)).json['code']).toBe('PermissionDenied');
    expect((await as(carol, 'GET', `/v0.10/endpoint/${guest}`)).json['my_effective_roles']).toEqual(['access_manager']);
    const list = ((await as(carol, 'GET', `/v0.10/endpoint/${guest}/access_list`)).json['DATA'] as Json[]);
    expect(list.find((d) => d['role_id'] === mgrId)).toMatchObject({ id: null, role_type: 'access_manager', principal: carol.identityId, path: '/', permissions: 'rw' });

    // A group holding administrator: its members manage roles.
    const group = new GroupRepo(db).create({ name: 'lab' }, alice.identityId);
    new GroupRepo(db).setMembership(group.id, dave.identityId, 'member', 'active');
    const admins = await as(alice, 'POST', `/v0.10/endpoint/${guest}/role`, { principal_type: 'group', principal: group.id, role: 'administrator' });
    expect(admins.status).toBe(201);
    const roles = (await as(dave, 'GET', `/v0.10/endpoint/${guest}/role_list`)).json;
    expect(roles['DATA_TYPE']).toBe('role_list');
    expect((roles['DATA'] as Json[]).map((r) => r['role']).sort()).toEqual(['access_manager', 'activity_monitor', 'administrator']);

    expect((await as(dave, 'DELETE', `/v0.10/endpoint/${guest}/role/${mgrId}`)).json).toMatchObject({ DATA_TYPE: 'result', code: 'Deleted' });
    const gone = await as(alice, 'GET', `/v0.10/endpoint/${guest}/role/${mgrId}`);
    expect(gone.status).toBe(404);
    expect(gone.json['code']).toBe('RoleNotFound');
    expect((await as(carol, 'GET', `/v0.10/endpoint/${guest}/access_list`)).status).toBe(403);
    await control.proc.waitForLog(/"change":"role deleted".*"msg":"sharing update published"/);
    const changes = logLines(control, 'sharing update published').map((l) => l['change']);
    expect(changes.filter((c) => c === 'role created')).toHaveLength(3);
    expect(changes.at(-1)).toBe('role deleted');
  });

  it('mails the grantee through the configured SMTP server when notify_email is given', async () => {
    const before = smtp.mails.length;
    smtp.failNext = 1;
    const r = await as(alice, 'POST', `/v0.10/endpoint/${guest}/access`, {
      DATA_TYPE: 'access', principal_type: 'identity', principal: carol.identityId, path: '/data/', permissions: 'r',
      notify_email: 'carol@example.org', notify_message: 'Here are the results.',
    });
    expect(r.status).toBe(201);
    const mails = await smtp.waitForMails(before + 1);
    const mail = mails.at(-1)!;
    expect(mail.to).toEqual(['carol@example.org']);
    expect(mail.from).toBe('ferry@ferry.test');
    expect(mail.user).toBe(SMTP_USER);
    expect(mail.raw).toContain('alice proj');
    expect(mail.raw).toContain(guest);
    expect(mail.raw).toContain('Here are the results.');
    expect(mail.raw).toContain('has given you read access to the =\r\nfolder /data/');
    // The first attempt was refused (451) and retried; the row is marked sent.
    // The server has the mail a moment before control records the send: wait for the row.
    type Row = { attempts: number; sent_at: number | null; failed_at: number | null };
    const last = () => db.prepare('SELECT attempts, sent_at, failed_at FROM notification_outbox ORDER BY id DESC LIMIT 1').get() as Row;
    for (const until = Date.now() + 10_000; last().sent_at === null && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    const row = last();
    expect(row.attempts).toBe(2);
    expect(row.sent_at).not.toBeNull();
    expect(row.failed_at).toBeNull();
    expect(control.proc.stderr()).not.toContain(SMTP_PASSWORD);
  });

  it('routes operations on a guest collection to the host agent, for any caller', async () => {
    // bob cannot touch alice's mapped endpoint at all.
    expect((await as(bob, 'GET', `/v0.10/operation/endpoint/${mapped}/ls?path=/~/`)).json['code']).toBe('EndpointNotFound');
    const ls = await as(bob, 'GET', `/v0.10/operation/endpoint/${guest}/ls?path=/data/`);
    // Control lets it through; the agent decides (bob's rule lets him list).
    expect(ls.json['code']).not.toBe('EndpointNotFound');
    expect(ls.json['code']).not.toBe('PermissionDenied');
    expect(ls.status).toBe(200);
    expect((ls.json['DATA'] as Json[]).map((f) => f['name'])).toEqual(['f.txt']);
  });

  it('accepts tasks on guest collections from any caller; they belong to the submitter', async () => {
    const sub = await as(bob, 'POST', '/v0.10/delete', { DATA_TYPE: 'delete', endpoint: guest, DATA: [{ DATA_TYPE: 'delete_item', path: '/data/nothing-here' }], ignore_missing: true });
    expect(sub.status).toBe(202);
    const taskId = sub.json['task_id'] as string;
    expect((await as(alice, 'GET', `/v0.10/task/${taskId}`)).json['code']).toBe('TaskNotFound');
    const task = (await as(bob, 'GET', `/v0.10/task/${taskId}`)).json;
    expect(task).toMatchObject({ owner_id: bob.identityId, source_endpoint_id: guest });
    // A mapped endpoint stays owner-only.
    expect((await as(bob, 'POST', '/v0.10/delete', { endpoint: mapped, DATA: [{ path: '/~/x' }] })).json['code']).toBe('EndpointNotFound');
  });

  it('answers endpoint_search scopes and my_shared_endpoint_list', async () => {
    const ids = async (who: User, scope: string) => ((await as(who, 'GET', `/v0.10/endpoint_search?filter_scope=${scope}&limit=100`)).json['DATA'] as Json[]).map((e) => e['id']);
    const aliceGuests = (await ids(alice, 'shared-by-me'));
    expect(aliceGuests).toHaveLength(2);
    expect(aliceGuests).toContain(guest);
    expect(await ids(alice, 'my-endpoints')).toEqual(expect.arrayContaining([mapped, ...aliceGuests]));
    expect(await ids(alice, 'my-gcp-endpoints')).not.toContain(guest);
    // bob has a rule (and a role) on guest; carol a rule; alice's own never shows as shared with her.
    expect(await ids(bob, 'shared-with-me')).toEqual([guest]);
    expect(await ids(carol, 'shared-with-me')).toEqual([guest]);
    expect(await ids(alice, 'shared-with-me')).toEqual([]);
    expect(await ids(dave, 'administered-by-me')).toEqual([guest]);
    expect(await ids(bob, 'recently-used')).toEqual([guest]);
    expect(await ids(bob, 'shared-by-me')).toEqual([]);
    const guestsOnHost = await as(alice, 'GET', `/v0.10/endpoint_search?filter_scope=my-endpoints&filter_host_endpoint=${mapped}`);
    expect((guestsOnHost.json['DATA'] as Json[]).map((e) => e['entity_type'])).toEqual(['GCP_guest_collection', 'GCP_guest_collection']);
    // Which collections a private host serves is not told to others, whatever the scope.
    expect((await as(bob, 'GET', `/v0.10/endpoint_search?filter_scope=shared-with-me&filter_host_endpoint=${mapped}`)).json['DATA']).toEqual([]);

    const mine = (await as(alice, 'GET', `/v0.10/endpoint/${mapped}/my_shared_endpoint_list`)).json;
    expect(mine['DATA_TYPE']).toBe('endpoint_list');
    expect((mine['DATA'] as Json[]).map((e) => e['id']).sort()).toEqual([...aliceGuests].sort());
    expect((await as(bob, 'GET', `/v0.10/endpoint/${mapped}/my_shared_endpoint_list`)).status).toBe(404);
  });

  it('deletes a guest collection (removed from the replica) and disables the rest with their host', async () => {
    const other = ((await as(alice, 'GET', '/v0.10/endpoint_search?filter_scope=shared-by-me')).json['DATA'] as Json[]).map((e) => e['id'] as string).find((id) => id !== guest)!;
    expect((await as(bob, 'DELETE', `/v0.10/endpoint/${other}`)).json['code']).toBe('PermissionDenied');
    expect((await as(alice, 'DELETE', `/v0.10/endpoint/${other}`)).json).toMatchObject({ code: 'Deleted' });
    expect((await as(alice, 'GET', `/v0.10/endpoint/${other}`)).json['code']).toBe('EndpointDeleted');
    // Published after the DELETE answers: wait for the line, then check it is the last update.
    await control.proc.waitForLog(new RegExp(`^(?=.*"msg":"sharing update published")(?=.*"change":"collection deleted")(?=.*"${other}")`));
    expect(logLines(control, 'sharing update published').at(-1)).toMatchObject({ change: 'collection deleted', removed: [other], collections: [] });

    // A task waiting for the host's agent fails once its collection cannot be used.
    await agent.stop();
    const sub = await as(bob, 'POST', '/v0.10/delete', { endpoint: guest, DATA: [{ path: '/data/f.txt' }] });
    expect(sub.status).toBe(202);
    expect((await as(alice, 'DELETE', `/v0.10/endpoint/${mapped}`)).json).toMatchObject({ code: 'Deleted' });
    let task: Json = {};
    for (const until = Date.now() + 20_000; Date.now() < until;) {
      task = (await as(bob, 'GET', `/v0.10/task/${sub.json['task_id'] as string}`)).json;
      if (task['status'] !== 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(task).toMatchObject({ status: 'FAILED', fatal_error: { code: 'PERMISSION_DENIED' } });
    const events = (await as(bob, 'GET', `/v0.10/task/${sub.json['task_id'] as string}/event_list`)).json['DATA'] as Json[];
    expect(events.find((e) => e['code'] === 'PERMISSION_DENIED')?.['details']).toContain('Sharing.CollectionRefused');
    await control.proc.waitForLog(/^(?=.*"msg":"sharing update published")(?=.*"change":"host endpoint deleted")/);
    expect(logLines(control, 'sharing update published').at(-1)).toMatchObject({ change: 'host endpoint deleted', collections: [guest] });
    const doc = (await as(alice, 'GET', `/v0.10/endpoint/${guest}`)).json;
    expect(doc).toMatchObject({ id: guest, non_functional: true, gcp_connected: false });
    const refused = await as(bob, 'GET', `/v0.10/operation/endpoint/${guest}/ls?path=/`);
    expect(refused.json['code']).toBe('Sharing.CollectionRefused');
    expect((await as(bob, 'POST', '/v0.10/delete', { endpoint: guest, DATA: [{ path: '/x' }] })).json['code']).toBe('Sharing.CollectionRefused');
  });
});
