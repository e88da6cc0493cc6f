import { fastify, type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../../src/control/store/db.js';
import { registerAuthRoutes } from '../../../../src/control/api/routes/auth-routes.js';
import { authFor, type AuthService } from '../../../../src/control/auth/service.js';
import { OAuthServer, s256, type TokenDoc } from '../../../../src/control/auth/oauth.js';
import { accountPrincipals } from '../../../../src/control/auth/verify.js';
import { SCOPES } from '../../../../src/control/auth/scopes.js';

const VERIFIER = 'q'.repeat(60);

describe('Groups API (in-process)', () => {
  let db: Db;
  let app: FastifyInstance;
  let auth: AuthService;
  const tokens: Record<string, string> = {};
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
    const r = await app.inject({ method: 'GET', url: '/v2/groups/my_groups' });
    expect(r.statusCode).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized', errors: [{ status: '401', code: 'UNAUTHORIZED' }] });
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
