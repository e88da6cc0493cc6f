import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { startAgent, startControl, tempDir, type AgentHandle, type ControlHandle } from '../helpers/cluster.js';
import { FERRY_BIN, runFerry } from '../helpers/process.js';
import { ferryJson, headlessAuthorize, https } from './auth/helpers.js';

/**
 * `ferry share | acl | role` as a user runs them: real control, a real agent whose root is
 * shareable (`:share`), and `ferry` processes signed in with `ferry login` (so usernames are
 * looked up through Ferry Auth).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USAGE = 2;
const REMOTE = 3;

interface AccessDoc { id: string | null; role_id: string | null; principal_type: string; principal: string; path: string; permissions: string; expiration_date: string | null }

/** `ferry login --no-browser` for `username`, the code pasted in as a person would. */
async function login(home: string, url: string, caFile: string, caPem: string, username: string, password: string): Promise<void> {
  const env = { ...process.env, FERRY_HOME: home, FERRY_URL: url, FERRY_CA: caFile, FERRY_TOKEN: '' };
  const p = spawn(process.execPath, [FERRY_BIN, 'login', '--no-browser'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  const authorizeUrl = await new Promise<string>((resolve) => p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    const m = /(https:\/\/\S+\/v2\/oauth2\/authorize\?\S+)/.exec(err);
    if (m && err.includes('Paste the code')) resolve(m[1]!);
  }));
  const landing = await headlessAuthorize({ url, ca: caPem, clientId: '', redirectUri: '', scope: '', username, password, authorizeUrl });
  const page = await https('GET', landing.href, caPem);
  p.stdin.end(`${/id="code" readonly value="([^"]+)"/.exec(page.body)![1]!}\n`);
  const exit = await new Promise<number | null>((r) => p.on('exit', r));
  if (exit !== 0) throw new Error(`ferry login failed (${exit}): ${err}`);
}

describe('ferry share, acl and role against a real control and a sharing agent', () => {
  const dir = tempDir('ferry-sharing-cli-');
  const root = join(dir.path, 'data');
  const home = join(dir.path, 'home-erin');
  let control: ControlHandle;
  let agent: AgentHandle;
  let owner: ApiClient;
  let hostId: string;
  let shareId: string;
  let groupId: string;
  let alice: { token: string; identityId: string };
  let bob: { token: string; identityId: string };
  /** Erin, signed in with `ferry login`: client.json and auth.json in her FERRY_HOME. */
  const erin = (): Record<string, string> => ({ FERRY_HOME: home, FERRY_URL: '', FERRY_TOKEN: '', FERRY_CA: '' });
  const ferry = (args: string[], env = erin()) => runFerry(args, env);
  const aclJson = async (): Promise<AccessDoc[]> => {
    const r = await ferry(['acl', 'list', shareId, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { DATA: AccessDoc[] }).DATA;
  };

  beforeAll(async () => {
    mkdirSync(join(root, 'proj', 'data'), { recursive: true });
    mkdirSync(join(root, 'private'));
    writeFileSync(join(root, 'proj', 'data', 'run1.csv'), 'a,b\n1,2\n');
    control = await startControl(join(dir.path, 'control'));
    await ferryJson(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'erin@example.org', '--password-stdin'], 'erin-password-1');
    alice = await control.user('alice@example.org');
    bob = await control.user('bob@example.org');
    await login(home, control.url, control.caFile, control.caPem, 'erin@example.org', 'erin-password-1');
    const transferToken = (JSON.parse(readFileSync(join(home, 'client.json'), 'utf8')) as { token: string }).token;
    owner = new ApiClient({ url: control.url, token: transferToken, ca: control.caPem });
    agent = await startAgent(owner, join(dir.path, 'agent'), [`${root}:rw:share`], 'lab host');
    hostId = agent.endpointId;
    const group = await ferry(['group', 'create', 'lab']);
    expect(group.code, group.stderr).toBe(0);
    groupId = (JSON.parse(group.stdout) as { id: string }).id;
  });
  afterAll(async () => {
    await agent?.stop();
    owner?.close();
    await control?.stop();
    dir.cleanup();
  });

  it('share create prints the new collection id; share list shows it with its host and path', async () => {
    const created = await ferry(['share', 'create', `${hostId}:/~/proj`, '--display-name', 'Project data', '--description', 'shared by the CLI']);
    expect(created.code, created.stderr).toBe(0);
    shareId = created.stdout.trim();
    expect(shareId).toMatch(UUID);
    expect(created.stderr).toContain(`ferry acl add ${shareId}`);

    const json = await ferry(['share', 'create', `${hostId}:/~/proj/data/`, '--display-name', 'Just data', '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as { DATA_TYPE: string; code: string; id: string };
    expect(doc).toMatchObject({ DATA_TYPE: 'endpoint_create_result', code: 'Created' });
    expect(doc.id).toMatch(UUID);

    for (const args of [['share', 'list'], ['share', 'list', hostId]]) {
      const list = await ferry(args);
      expect(list.code, list.stderr).toBe(0);
      const lines = list.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^ID\s+Display Name\s+Host Endpoint\s+Host Path$/);
      expect(lines.find((l) => l.startsWith(shareId))).toMatch(new RegExp(`^${shareId}\\s+Project data\\s+${hostId}\\s+/~/proj/$`));
      expect(lines.find((l) => l.startsWith(doc.id))).toMatch(new RegExp(`^${doc.id}\\s+Just data\\s+${hostId}\\s+/~/proj/data/$`));
    }
    const listJson = await ferry(['share', 'list', hostId, '--format', 'json']);
    const listed = JSON.parse(listJson.stdout) as { DATA_TYPE: string; DATA: Array<{ id: string; host_endpoint_id: string; host_path: string }> };
    expect(listed.DATA_TYPE).toBe('endpoint_list');
    expect(listed.DATA.map((e) => e.id).sort()).toEqual([shareId, doc.id].sort());

    // Bob owns no guest collections.
    const bobs = await ferry(['share', 'list'], { FERRY_URL: control.url, FERRY_TOKEN: bob.token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'empty') });
    expect(bobs.code, bobs.stderr).toBe(0);
    expect(bobs.stdout).toBe('No guest collections found.\n');
  });

  it('acl add grants an identity (by username), a group, all authenticated users and anonymous; acl list and acl rm', async () => {
    const add = async (...args: string[]): Promise<string> => {
      const r = await ferry(['acl', 'add', shareId, ...args]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(UUID);
      return r.stdout.trim();
    };
    const aliceRule = await add('--identity', 'alice@example.org', '--path', '/data/', '--permissions', 'r');
    const groupRule = await add('--group', groupId, '--path', '/', '--permissions', 'rw');
    const everyoneRule = await add('--all-authenticated', '--path', '/pub/', '--permissions', 'r', '--expiration-date', '2030-01-01');
    const anonJson = await ferry(['acl', 'add', shareId, '--anonymous', '--path', '/pub/', '--permissions', 'r', '--format', 'json']);
    expect(anonJson.code, anonJson.stderr).toBe(0);
    const anon = JSON.parse(anonJson.stdout) as { DATA_TYPE: string; code: string; access_id: string };
    expect(anon).toMatchObject({ DATA_TYPE: 'access_create_result', code: 'Created' });

    const rules = await aclJson();
    const byId = (id: string) => rules.find((r) => r.id === id);
    expect(byId(aliceRule)).toMatchObject({ principal_type: 'identity', principal: alice.identityId, path: '/data/', permissions: 'r', expiration_date: null });
    expect(byId(groupRule)).toMatchObject({ principal_type: 'group', principal: groupId, path: '/', permissions: 'rw' });
    expect(byId(everyoneRule)).toMatchObject({ principal_type: 'all_authenticated_users', principal: '', path: '/pub/' });
    expect(byId(everyoneRule)?.expiration_date).toMatch(/^2030-01-01T00:00:00/);
    expect(byId(anon.access_id)).toMatchObject({ principal_type: 'anonymous', principal: '', path: '/pub/', permissions: 'r' });

    const text = await ferry(['acl', 'list', shareId]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Rule ID\s+Principal Type\s+Principal\s+Path\s+Permissions\s+Expires$/);
    // The owner's implicit rw on / has no rule id; identities show as usernames.
    expect(lines).toContainEqual(expect.stringMatching(/^\(role\)\s+identity\s+erin@example\.org\s+\/\s+rw\s+-$/));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${aliceRule}\\s+identity\\s+alice@example\\.org\\s+/data/\\s+r\\s+-$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${groupRule}\\s+group\\s+${groupId}\\s+/\\s+rw\\s+-$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${everyoneRule}\\s+all_authenticated_users\\s+-\\s+/pub/\\s+r\\s+2030-01-01 00:00$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${anon.access_id}\\s+anonymous\\s+-\\s+/pub/\\s+r\\s+-$`)));

    const rm = await ferry(['acl', 'rm', shareId, groupRule]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toMatch(/deleted/i);
    expect((await aclJson()).map((r) => r.id)).not.toContain(groupRule);
    // A second delete is the server's error, shown as every API error is.
    const again = await ferry(['acl', 'rm', shareId, groupRule]);
    expect(again.code).toBe(REMOTE);
    expect(again.stderr).toMatch(/^ferry: error \[AccessRuleNotFound\]: .*\(request \S+\)\n$/);
  });

  it('role add (username or identity id, or group), role list and role rm; managers appear as (role) in acl list', async () => {
    const added = await ferry(['role', 'add', shareId, '--identity', 'bob@example.org', '--role', 'access_manager']);
    expect(added.code, added.stderr).toBe(0);
    const bobRole = added.stdout.trim();
    expect(bobRole).toMatch(UUID);
    const byId = await ferry(['role', 'add', shareId, '--identity', alice.identityId, '--role', 'activity_monitor', '--format', 'json']);
    expect(byId.code, byId.stderr).toBe(0);
    const aliceRole = JSON.parse(byId.stdout) as { DATA_TYPE: string; id: string; principal: string; role: string };
    expect(aliceRole).toMatchObject({ DATA_TYPE: 'role', principal_type: 'identity', principal: alice.identityId, role: 'activity_monitor' });
    const groupRole = (await ferry(['role', 'add', shareId, '--group', groupId, '--role', 'administrator'])).stdout.trim();
    expect(groupRole).toMatch(UUID);

    const list = await ferry(['role', 'list', shareId]);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Role ID\s+Principal Type\s+Principal\s+Role$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${bobRole}\\s+identity\\s+bob@example\\.org\\s+access_manager$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${aliceRole.id}\\s+identity\\s+alice@example\\.org\\s+activity_monitor$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${groupRole}\\s+group\\s+${groupId}\\s+administrator$`)));

    const implicit = (await aclJson()).filter((r) => r.id === null);
    expect(implicit.map((r) => r.role_id).sort()).toEqual([null, bobRole, groupRole].sort());
    const aclText = await ferry(['acl', 'list', shareId]);
    expect(aclText.stdout).toMatch(/^\(role\)\s+identity\s+bob@example\.org\s+\/\s+rw\s+-$/m);

    // Bob, as access manager, may now list the rules himself (by id: he has not signed in to Auth).
    const asBob = { FERRY_URL: control.url, FERRY_TOKEN: bob.token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'empty') };
    const bobList = await ferry(['acl', 'list', shareId], asBob);
    expect(bobList.code, bobList.stderr).toBe(0);
    expect(bobList.stdout).toContain(alice.identityId);

    for (const id of [bobRole, aliceRole.id, groupRole]) {
      const rm = await ferry(['role', 'rm', shareId, id]);
      expect(rm.code, rm.stderr).toBe(0);
    }
    const empty = await ferry(['role', 'list', shareId]);
    expect(empty.stdout).toBe('No roles.\n');
    const gone = await ferry(['acl', 'list', shareId], asBob);
    expect(gone.code).toBe(REMOTE);
    expect(gone.stderr).toMatch(/^ferry: error \[PermissionDenied\]: /);
  });

  /** Control is unreachable for these: any request would end in exit 69, not the usage error 2. */
  const refusedOffline = async (cases: Array<[string[], RegExp]>): Promise<void> => {
    const offline = { ...erin(), FERRY_URL: 'https://127.0.0.1:1', FERRY_TOKEN: 'unused-token-unused-token', FERRY_CA: control.caFile };
    for (const [args, message] of cases) {
      const r = await ferry(args, offline);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(USAGE);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout, args.join(' ')).toBe('');
    }
  };

  it('acl add refuses two principals, none, bad permissions, paths and dates before sending any request', async () => {
    const before = await aclJson();
    await refusedOffline([
      [['acl', 'add', shareId, '--identity', 'alice@example.org', '--group', groupId, '--path', '/', '--permissions', 'r'], /'--identity <USERNAME_OR_ID>' cannot be used with option '--group <GROUP_ID>'/],
      [['acl', 'add', shareId, '--all-authenticated', '--anonymous', '--path', '/', '--permissions', 'r'], /cannot be used with/],
      [['acl', 'add', shareId, '--path', '/', '--permissions', 'r'], /give one of --identity, --group, --all-authenticated or --anonymous/],
      [['acl', 'add', shareId, '--anonymous', '--path', '/', '--permissions', 'w'], /argument 'w' is invalid\. Allowed choices are r, rw/],
      [['acl', 'add', shareId, '--anonymous', '--path', 'data/', '--permissions', 'r'], /'data\/' is not a path inside the collection: it must start with \//],
      [['acl', 'add', shareId, '--anonymous', '--path', '/', '--permissions', 'r', '--expiration-date', 'next week'], /ISO 8601 date/],
      [['acl', 'add', shareId, '--anonymous', '--path', '/', '--permissions', 'r', '--notify-message', 'hi'], /--notify-message needs --notify-email/],
      [['acl', 'add', shareId, '--group', 'lab', '--path', '/', '--permissions', 'r'], /'lab' is not a group ID/],
    ]);
    expect(await aclJson()).toEqual(before);
  });

  it('acl rm, role and share refuse malformed ids and options before sending any request', async () => {
    await refusedOffline([
      [['acl', 'add', 'not-a-share', '--anonymous', '--path', '/', '--permissions', 'r'], /'not-a-share' is not a guest collection ID/],
      [['acl', 'rm', shareId, '42'], /'42' is not an access rule ID/],
      [['role', 'add', shareId, '--identity', 'bob@example.org', '--role', 'owner'], /Allowed choices are administrator, access_manager, activity_manager, activity_monitor/],
      [['role', 'add', shareId, '--role', 'administrator'], /give one of --identity or --group/],
      [['role', 'add', shareId, '--anonymous', '--role', 'administrator'], /unknown option '--anonymous'/],
      [['share', 'create', hostId, '--display-name', 'x'], /names no path/],
      [['share', 'create', `${hostId}:/~/proj/`], /required option '--display-name <name>' not specified/],
    ]);
  });

  it('an unknown username is a clear error with a stable code; nothing is created', async () => {
    const before = await aclJson();
    const r = await ferry(['acl', 'add', shareId, '--identity', 'nobody@example.org', '--path', '/', '--permissions', 'r']);
    expect(r.code).toBe(REMOTE);
    expect(r.stderr).toBe("ferry: error [ClientError.NotFound]: no identity with username 'nobody@example.org'\n");
    const role = await ferry(['role', 'add', shareId, '--identity', 'nobody@example.org', '--role', 'administrator']);
    expect(role.code).toBe(REMOTE);
    expect(role.stderr).toContain('[ClientError.NotFound]');
    expect(await aclJson()).toEqual(before);
    // Without `ferry login` a username cannot be looked up; the message says what to do.
    const noLogin = await ferry(['acl', 'add', shareId, '--identity', 'alice@example.org', '--path', '/', '--permissions', 'r'],
      { FERRY_URL: control.url, FERRY_TOKEN: bob.token, FERRY_CA: control.caFile, FERRY_HOME: join(dir.path, 'empty') });
    expect(noLogin.code).not.toBe(0);
    expect(noLogin.stderr).toMatch(/\[ClientError\.AuthenticationFailed\].*ferry login.*UUID/);
  });

  it("the server's refusals are shown as API errors", async () => {
    // A mapped endpoint has no access rules; a missing collection is not found.
    const mapped = await ferry(['acl', 'list', hostId]);
    expect(mapped.code).toBe(REMOTE);
    expect(mapped.stderr).toMatch(/^ferry: error \[ClientError\.Conflict\]: .*guest collection/);
    const missing = await ferry(['acl', 'list', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(REMOTE);
    expect(missing.stderr).toMatch(/^ferry: error \[EndpointNotFound\]/);
    const outside = await ferry(['share', 'create', `${hostId}:/~/missing/`, '--display-name', 'nope']);
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/^ferry: error \[\S+\]: /);
    const past = await ferry(['acl', 'add', shareId, '--anonymous', '--path', '/old/', '--permissions', 'r', '--expiration-date', '2001-01-01']);
    expect(past.code).toBe(REMOTE);
    expect(past.stderr).toMatch(/^ferry: error \[ClientError\.BadRequest\]: expiration_date is in the past/);
  });

  it('explains each command to a newcomer', async () => {
    for (const [group, subs] of [['share', ['create', 'list']], ['acl', ['add', 'list', 'rm']], ['role', ['add', 'list', 'rm']]] as const) {
      const g = await runFerry([group, '--help']);
      expect(g.code, group).toBe(0);
      for (const sub of subs) expect(g.stdout, group).toMatch(new RegExp(`^  ${sub} `, 'm'));
      for (const sub of subs) {
        const h = await runFerry([group, sub, '--help']);
        expect(h.code, `${group} ${sub}`).toBe(0);
        expect(h.stdout, `${group} ${sub}`).toMatch(new RegExp(`^Usage: ferry ${group} ${sub} `));
        expect(h.stdout, `${group} ${sub}`).toMatch(new RegExp(`Examples?:\\n  \\$ ferry ${group} ${sub}\\b`));
      }
    }
    const top = await runFerry(['--help']);
    for (const cmd of ['share', 'acl', 'role']) expect(top.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
  });
});
