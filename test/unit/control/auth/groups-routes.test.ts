import { fastify, type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../../src/control/store/db.js';
import { registerAuthRoutes } from '../../../../src/control/api/routes/auth-routes.js';
import { authFor, type AuthService } from '../../../../src/control/auth/service.js';
import { OAuthServer, s256, type TokenDoc } from '../../../../src/control/auth/oauth.js';
import { accountPrincipals, checkAccessToken } from '../../../../src/control/auth/verify.js';
import { SCOPES } from '../../../../src/control/auth/scopes.js';

const VERIFIER = 'q'.repeat(60);

describe('Groups API (in-process)', () => {
  let db: Db;
  let app: FastifyInstance;
  let auth: AuthService;
  const tokens: Record<string, string> = {};
  const transferTokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeEach(async () => {
    db = openDatabase(':memory:');
    auth = authFor(db);
    app = fastify();
    registerAuthRoutes(app as never, { store: { db }, publicUrl: 'https://ferry.test' } as never);
    await app.ready();
    const oauth = new OAuthServer(auth);
    const pub = auth.clients.create({ name: 'app', public: true, redirectUris: ['http://127.0.0.1:1/cb'] }).client.id;
    for (const name of ['ann', 'ben', 'cat']) {
      const id = auth.accounts.create({ username: `${name}@local`, providerId: auth.accounts.localProvider().id }).id;
      ids[name] = id;
      const code = auth.grants.createCode({ clientId: pub, identityId: id, scopes: [SCOPES.groupsAll, SCOPES.transfer], redirectUri: 'http://127.0.0.1:1/cb', codeChallenge: s256(VERIFIER), nonce: null, offline: false, authTime: Date.now(), ttlMs: 60_000 });
      const doc = await oauth.token(undefined, { grant_type: 'authorization_code', client_id: pub, code, redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: VERIFIER }) as TokenDoc;
      tokens[name] = [doc, ...doc.other_tokens!].find((t) => t.resource_server === 'groups.api.globus.org')!.access_token;
      transferTokens[name] = [doc, ...doc.other_tokens!].find((t) => t.resource_server === 'transfer.api.globus.org')!.access_token;
    }
  });
  afterEach(async () => {
    await app.close();
    db.close();
  });

  const call = async (who: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${tokens[who]}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null };
  };

  it('invite → accept, leave, remove, roles and visibility', async () => {
    const g = (await call('ann', 'POST', '/v2/groups', { name: 'lab' })).body;
    expect((await call('ben', 'GET', `/v2/groups/${g.id}`)).status).toBe(404);
    expect((await call('ann', 'POST', `/v2/groups/${g.id}`, { invite: [{ identity_id: ids['ben'] }] })).body.invite[0]).toMatchObject({ status: 'invited' });
    // An invitee sees the group, and only the invitee can accept.
    expect((await call('ben', 'GET', `/v2/groups/${g.id}`)).status).toBe(200);
    expect((await call('cat', 'POST', `/v2/groups/${g.id}`, { accept: [{ identity_id: ids['ben'] }] })).status).toBe(404);
    expect((await call('ann', 'POST', `/v2/groups/${g.id}`, { accept: [{ identity_id: ids['ben'] }] })).body.errors.accept[0].code).toBe('FORBIDDEN');
    expect((await call('ben', 'POST', `/v2/groups/${g.id}`, { accept: [{ identity_id: ids['ben'] }] })).body.accept[0]).toMatchObject({ status: 'active', role: 'member' });
    expect(accountPrincipals(auth, ids['ben']!).groupIds).toEqual([g.id]);
    // Members cannot manage, and see members only when the policy says so.
    expect((await call('ben', 'POST', `/v2/groups/${g.id}`, { add: [{ identity_id: ids['cat'] }] })).body.errors.add[0].code).toBe('FORBIDDEN');
    expect((await call('ben', 'GET', `/v2/groups/${g.id}?include=memberships`)).body.memberships).toBeUndefined();
    await call('ann', 'PUT', `/v2/groups/${g.id}/policies`, { group_members_visibility: 'members' });
    expect((await call('ben', 'GET', `/v2/groups/${g.id}?include=memberships`)).body.memberships).toHaveLength(2);
    expect((await call('ben', 'PUT', `/v2/groups/${g.id}`, { name: 'mine' })).status).toBe(403);
    // The last admin stays; a member leaves; a manager adds.
    expect((await call('ann', 'POST', `/v2/groups/${g.id}`, { remove: [{ identity_id: ids['ann'] }] })).body.errors.remove[0].code).toBe('LAST_ADMIN');
    await call('ann', 'POST', `/v2/groups/${g.id}`, { change_role: [{ identity_id: ids['ben'], role: 'manager' }] });
    expect((await call('ben', 'POST', `/v2/groups/${g.id}`, { add: [{ identity_id: ids['cat'] }] })).body.add[0]).toMatchObject({ status: 'active' });
    expect((await call('cat', 'POST', `/v2/groups/${g.id}`, { leave: [{ identity_id: ids['cat'] }] })).body.leave[0]).toMatchObject({ status: 'left' });
    expect((await call('cat', 'GET', '/v2/groups/my_groups')).body).toEqual([]);
    expect((await call('ben', 'GET', '/v2/groups/my_groups')).body.map((x: { name: string }) => x.name)).toEqual(['lab']);
    expect((await call('ben', 'DELETE', `/v2/groups/${g.id}`)).status).toBe(403);
    expect((await call('ann', 'DELETE', `/v2/groups/${g.id}`)).status).toBe(200);
    expect(accountPrincipals(auth, ids['ben']!).groupIds).toEqual([]);
  });

  it('refuses tokens of other resource servers and missing tokens in Globus Auth error shape', async () => {
    const missing = await app.inject({ method: 'GET', url: '/v2/groups/my_groups' });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'unauthorized', errors: [{ status: '401', code: 'UNAUTHORIZED' }] });

    // A valid, active token, but issued for Transfer: Globus Auth's 403 FORBIDDEN document, on reads and writes.
    const g = (await call('ann', 'POST', '/v2/groups', { name: 'lab' })).body;
    const asTransfer = { authorization: `Bearer ${transferTokens['ann']}` };
    for (const [method, url] of [['GET', '/v2/groups/my_groups'], ['GET', `/v2/groups/${g.id}`], ['POST', '/v2/groups'], ['DELETE', `/v2/groups/${g.id}`]] as const) {
      const r = await app.inject({ method, url, headers: asTransfer, ...(method === 'POST' ? { payload: { name: 'x' } } : {}) });
      expect(r.statusCode, `${method} ${url}`).toBe(403);
      const body = JSON.parse(r.body);
      expect(body, `${method} ${url}`).toMatchObject({
        error: 'forbidden', error_description: expect.stringContaining("'transfer.api.globus.org'"),
        errors: [{ status: '403', code: 'FORBIDDEN', title: 'Forbidden', id: expect.any(String) }],
      });
    }
    // Nothing was done with it: the group is still there, and no second group was made.
    expect((await call('ann', 'GET', '/v2/groups/my_groups')).body.map((x: { id: string }) => x.id)).toEqual([g.id]);
    // The same Transfer token is good for Transfer, so the refusal is about its resource server, not its validity.
    expect(checkAccessToken(auth, transferTokens['ann']!, 'transfer.api.globus.org').status).toBe('active');

    // A groups token that is not active any more is a 401, not a 403.
    auth.grants.revoke(tokens['ben']!);
    const revoked = await call('ben', 'GET', '/v2/groups/my_groups');
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ error: 'unauthorized', errors: [{ status: '401', code: 'UNAUTHORIZED' }] });
  });

  it("resolves membership through the account's linked identities: my_groups, get, invitations and roles", async () => {
    // ben's second identity (say, his university login) is the one ann puts in her groups.
    const ben2 = auth.accounts.create({ username: 'ben@uni.example', providerId: auth.accounts.localProvider().id }).id;
    const lab = (await call('ann', 'POST', '/v2/groups', { name: 'lab' })).body;
    const staff = (await call('ann', 'POST', '/v2/groups', { name: 'staff' })).body;
    const board = (await call('ann', 'POST', '/v2/groups', { name: 'board' })).body;
    expect((await call('ann', 'POST', `/v2/groups/${lab.id}`, { add: [{ identity_id: ben2, role: 'manager' }] })).body.add[0]).toMatchObject({ status: 'active', role: 'manager' });
    expect((await call('ann', 'POST', `/v2/groups/${staff.id}`, { invite: [{ identity_id: ben2 }] })).body.invite[0]).toMatchObject({ status: 'invited' });

    // Not linked yet: ben's own identity is in none of them.
    expect((await call('ben', 'GET', '/v2/groups/my_groups')).body).toEqual([]);
    expect((await call('ben', 'GET', `/v2/groups/${lab.id}`)).status).toBe(404);
    expect((await call('ben', 'POST', `/v2/groups/${staff.id}`, { accept: [{ identity_id: ben2 }] })).status).toBe(404);
    expect(accountPrincipals(auth, ids['ben']!).groupIds).toEqual([]);

    auth.accounts.link(ids['ben']!, ben2);

    // Linked: ben's token (issued to his first identity) is the account's.
    expect((await call('ben', 'GET', '/v2/groups/my_groups')).body.map((x: { name: string }) => x.name)).toEqual(['lab']);
    const got = await call('ben', 'GET', `/v2/groups/${lab.id}?include=memberships`);
    expect(got.status).toBe(200);
    expect(got.body.my_memberships).toEqual([expect.objectContaining({ identity_id: ben2, username: 'ben@uni.example', role: 'manager', status: 'active' })]);
    // The manager role held by the linked identity lets the account see members and add one.
    expect(got.body.memberships.map((m: { identity_id: string }) => m.identity_id).sort()).toEqual([ids['ann'], ben2].sort());
    expect((await call('ben', 'POST', `/v2/groups/${lab.id}`, { add: [{ identity_id: ids['cat'] }] })).body.add[0]).toMatchObject({ identity_id: ids['cat'], status: 'active' });
    // ...but not what needs admin, which no identity of the account holds.
    expect((await call('ben', 'PUT', `/v2/groups/${lab.id}`, { name: 'mine' })).status).toBe(403);
    // The invitation to the linked identity is the account's to accept; pending ones show with statuses=invited.
    expect((await call('ben', 'GET', '/v2/groups/my_groups?statuses=invited')).body.map((x: { name: string }) => x.name)).toEqual(['staff']);
    expect((await call('ben', 'POST', `/v2/groups/${staff.id}`, { accept: [{ identity_id: ben2 }] })).body.accept[0]).toMatchObject({ identity_id: ben2, status: 'active' });
    // A group with none of the account's identities stays invisible (private by default).
    expect((await call('ben', 'GET', `/v2/groups/${board.id}`)).status).toBe(404);
    // Transfer's principals for ben's token: every identity of the account and the groups any of them is active in.
    const principals = accountPrincipals(auth, ids['ben']!);
    expect(principals.identityIds.sort()).toEqual([ids['ben'], ben2].sort());
    expect(principals.groupIds.sort()).toEqual([lab.id, staff.id].sort());
    // ben2 leaving takes the groups away from the whole account.
    await call('ben', 'POST', `/v2/groups/${lab.id}`, { leave: [{ identity_id: ben2 }] });
    expect(accountPrincipals(auth, ids['ben']!).groupIds).toEqual([staff.id]);
  });

  it('registers, lists, updates and deletes clients through /v2/api/clients', async () => {
    const oauth = new OAuthServer(auth);
    const owner = auth.clients.create({ name: 'me', public: false });
    const doc = await oauth.token(`Basic ${Buffer.from(`${owner.client.id}:${owner.secret}`).toString('base64')}`, { grant_type: 'client_credentials', scope: 'openid' }) as TokenDoc;
    const h = { authorization: `Bearer ${doc.access_token}` };
    const made = await app.inject({ method: 'POST', url: '/v2/api/clients', headers: h, payload: { client: { name: 'portal', redirect_uris: ['https://p.example/cb'] } } });
    expect(made.statusCode).toBe(201);
    const body = JSON.parse(made.body);
    expect(body).toMatchObject({ client: { name: 'portal', public_client: false, redirect_uris: ['https://p.example/cb'] }, included: { client_credential: { secret: expect.any(String) } } });
    const bad = await app.inject({ method: 'POST', url: '/v2/api/clients', headers: h, payload: { client: { name: 'x', redirect_uris: ['http://evil.example/cb'] } } });
    expect(bad.statusCode).toBe(400);
    const list = JSON.parse((await app.inject({ method: 'GET', url: '/v2/api/clients', headers: h })).body);
    expect(list.clients.map((c: { name: string }) => c.name)).toEqual(['portal']);
    const upd = await app.inject({ method: 'PUT', url: `/v2/api/clients/${body.client.id}`, headers: h, payload: { client: { name: 'portal 2' } } });
    expect(JSON.parse(upd.body).client.name).toBe('portal 2');
    expect((await app.inject({ method: 'DELETE', url: `/v2/api/clients/${body.client.id}`, headers: h })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/v2/api/clients/${body.client.id}`, headers: h })).statusCode).toBe(404);
  });
});
