import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { openDatabase, type Db } from '../../../../src/control/store/db.js';
import { AuthService, DEFAULT_AUTH_TUNING } from '../../../../src/control/auth/service.js';
import { OAuthServer, s256, type TokenDoc } from '../../../../src/control/auth/oauth.js';
import { checkAccessToken } from '../../../../src/control/auth/verify.js';
import { SCOPES, TRANSFER_RS, AUTH_RS, clientScope } from '../../../../src/control/auth/scopes.js';
import { AuthError } from '../../../../src/control/auth/errors.js';
import { hashPassword, verifyPassword } from '../../../../src/control/auth/passwords.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const VERIFIER = 'v'.repeat(50);
const REDIRECT = 'http://127.0.0.1:5555/callback';

async function rejects(p: Promise<unknown> | (() => unknown), error: string, status?: number): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).error).toBe(error);
    if (status !== undefined) expect((err as AuthError).status).toBe(status);
    return;
  }
  throw new Error(`expected ${error}`);
}

describe('Ferry Auth token endpoint', () => {
  let db: Db;
  let auth: AuthService;
  let oauth: OAuthServer;
  let conf: { id: string; secret: string };
  let pub: string;
  let aliceId: string;

  beforeEach(() => {
    db = openDatabase(':memory:');
    auth = new AuthService(db, { ...DEFAULT_AUTH_TUNING });
    auth.issuer = 'https://ferry.test';
    oauth = new OAuthServer(auth);
    const c = auth.clients.create({ name: 'portal', public: false, redirectUris: ['https://portal.example.org/cb'] });
    conf = { id: c.client.id, secret: c.secret! };
    pub = auth.clients.create({ name: 'cli', public: true, redirectUris: [REDIRECT] }).client.id;
    aliceId = auth.accounts.create({ username: 'alice@local', providerId: auth.accounts.localProvider().id, name: 'Alice', email: 'alice@example.org' }).id;
  });
  afterEach(() => db.close());

  function code(over: Partial<{ clientId: string; challenge: string | null; scopes: string[]; ttlMs: number; offline: boolean; redirectUri: string }> = {}): string {
    return auth.grants.createCode({
      clientId: over.clientId ?? pub, identityId: aliceId, scopes: over.scopes ?? [SCOPES.openid, SCOPES.profile, SCOPES.transfer],
      redirectUri: over.redirectUri ?? REDIRECT, codeChallenge: over.challenge === undefined ? s256(VERIFIER) : over.challenge, nonce: 'n1',
      offline: over.offline ?? true, authTime: Date.now(), ttlMs: over.ttlMs ?? 60_000,
    });
  }
  const exchange = (c: string, extra: Record<string, string> = {}) =>
    oauth.token(undefined, { grant_type: 'authorization_code', client_id: pub, code: c, redirect_uri: REDIRECT, code_verifier: VERIFIER, ...extra }) as Promise<TokenDoc>;

  it('client credentials: the client is its own identity, one token per resource server', async () => {
    const doc = await oauth.token(basic(conf.id, conf.secret), { grant_type: 'client_credentials', scope: `${SCOPES.transfer} openid` }) as TokenDoc;
    expect(doc.resource_server).toBe(AUTH_RS);
    expect(doc.other_tokens).toHaveLength(1);
    expect(doc.other_tokens![0]).toMatchObject({ resource_server: TRANSFER_RS, scope: SCOPES.transfer, token_type: 'Bearer', expires_in: 172800 });
    expect(decodeJwt(doc.id_token!)).toMatchObject({ sub: conf.id, aud: conf.id, iss: 'https://ferry.test' });
    const check = checkAccessToken(auth, doc.other_tokens![0]!.access_token, TRANSFER_RS);
    expect(check).toMatchObject({ status: 'active', identityId: conf.id });
    expect(checkAccessToken(auth, doc.access_token, TRANSFER_RS)).toEqual({ status: 'wrong_resource_server', resourceServer: AUTH_RS });
    const intro = oauth.introspect(oauth.authenticateClient(basic(conf.id, conf.secret), {}), { token: doc.other_tokens![0]!.access_token });
    expect(intro).toMatchObject({ active: true, sub: conf.id, client_id: conf.id, username: `${conf.id}@clients.auth.globus.org` });
  });

  it('refuses wrong client secrets, public clients on client credentials and unknown scopes', async () => {
    await rejects(oauth.token(basic(conf.id, 'wrong'), { grant_type: 'client_credentials', scope: SCOPES.transfer }), 'invalid_client', 401);
    await rejects(oauth.token(undefined, { grant_type: 'client_credentials', client_id: pub, scope: SCOPES.transfer }), 'unauthorized_client');
    await rejects(oauth.token(basic(conf.id, conf.secret), { grant_type: 'client_credentials', scope: 'urn:globus:auth:scope:nowhere:all' }), 'invalid_scope');
    await rejects(oauth.token(undefined, { grant_type: 'password', client_id: pub }), 'unsupported_grant_type');
  });

  it('authorization code with PKCE: verifier checked, redirect URI matched exactly, single use', async () => {
    await rejects(exchange(code(), { code_verifier: 'w'.repeat(50) }), 'invalid_grant');
    await rejects(exchange(code(), { redirect_uri: `${REDIRECT}/` }), 'invalid_grant');
    await rejects(exchange(code(), { code_verifier: '' }), 'invalid_grant');
    const c = code();
    const doc = await exchange(c);
    expect(doc.resource_server).toBe(AUTH_RS);
    expect(doc.refresh_token).toBeTruthy();
    const transfer = doc.other_tokens![0]!;
    expect(decodeJwt(doc.id_token!)).toMatchObject({ sub: aliceId, nonce: 'n1', preferred_username: 'alice@local' });
    expect(checkAccessToken(auth, transfer.access_token, TRANSFER_RS).status).toBe('active');
    // A replayed code fails and revokes what its first use issued.
    await rejects(exchange(c), 'invalid_grant');
    expect(checkAccessToken(auth, transfer.access_token, TRANSFER_RS).status).toBe('inactive');
  });

  it('codes are short-lived, bound to their client, and public clients must use PKCE', async () => {
    const c = code({ ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    await rejects(exchange(c), 'invalid_grant');
    await rejects(oauth.token(basic(conf.id, conf.secret), { grant_type: 'authorization_code', code: code(), redirect_uri: REDIRECT, code_verifier: VERIFIER }), 'invalid_grant');
    await rejects(exchange(code({ challenge: null })), 'invalid_grant');
    // A confidential client may skip PKCE (Globus allows it), but its secret is required.
    const cc = code({ clientId: conf.id, challenge: null, redirectUri: 'https://portal.example.org/cb' });
    await rejects(oauth.token(undefined, { grant_type: 'authorization_code', client_id: conf.id, code: cc, redirect_uri: 'https://portal.example.org/cb' }), 'invalid_client');
  });

  it('refresh tokens rotate; reusing an old one revokes the whole family; scopes cannot grow', async () => {
    const doc = await exchange(code());
    const transfer = doc.other_tokens![0]!;
    const r1 = await oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: transfer.refresh_token! }) as TokenDoc;
    expect(r1).toMatchObject({ resource_server: TRANSFER_RS, scope: SCOPES.transfer, other_tokens: [] });
    expect(r1.refresh_token).not.toBe(transfer.refresh_token);
    await rejects(oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: r1.refresh_token!, scope: `${SCOPES.transfer} ${SCOPES.groupsAll}` }), 'invalid_scope');
    await rejects(oauth.token(basic(conf.id, conf.secret), { grant_type: 'refresh_token', refresh_token: r1.refresh_token! }), 'invalid_grant');
    const r2 = await oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: r1.refresh_token! }) as TokenDoc;
    expect(checkAccessToken(auth, r2.access_token, TRANSFER_RS).status).toBe('active');
    // Reuse of the first (rotated) refresh token: every token of the grant dies.
    await rejects(oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: transfer.refresh_token! }), 'invalid_grant');
    expect(checkAccessToken(auth, r2.access_token, TRANSFER_RS).status).toBe('inactive');
    expect(checkAccessToken(auth, doc.access_token, AUTH_RS).status).toBe('inactive');
    await rejects(oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: r2.refresh_token! }), 'invalid_grant');
  });

  it('introspects with identity_set across linked identities; other clients see inactive; revoke and validate', async () => {
    const bob = auth.accounts.create({ username: 'alice@upstream.example', providerId: auth.accounts.localProvider().id });
    auth.accounts.link(aliceId, bob.id);
    const doc = await exchange(code());
    const caller = oauth.authenticateClient(basic(conf.id, conf.secret), {});
    expect(oauth.introspect(caller, { token: doc.access_token })).toEqual({ active: false });
    const own = auth.clients.create({ name: 'rs', public: false });
    const t = await oauth.token(basic(own.client.id, own.secret!), { grant_type: 'client_credentials', scope: SCOPES.transfer }) as TokenDoc;
    const intro = oauth.introspect(oauth.authenticateClient(basic(own.client.id, own.secret!), {}), { token: t.access_token, include: 'identity_set' });
    expect(intro).toMatchObject({ active: true, scope: SCOPES.transfer, aud: [TRANSFER_RS, own.client.id] });
    expect(typeof intro['exp']).toBe('number');
    // The public client's own tokens: validate says active, then revoke.
    expect(oauth.validate(undefined, { client_id: pub, token: doc.access_token })).toEqual({ active: true });
    expect(oauth.validate(basic(conf.id, conf.secret), { token: doc.access_token })).toEqual({ active: false });
    const claims = oauth.userClaims(auth.accounts.identity(aliceId)!, [SCOPES.openid, SCOPES.profile, SCOPES.email]);
    expect((claims['identity_set'] as Array<{ sub: string }>).map((i) => i.sub).sort()).toEqual([aliceId, bob.id].sort());
    oauth.revoke(undefined, { client_id: pub, token: doc.access_token });
    expect(oauth.validate(undefined, { client_id: pub, token: doc.access_token })).toEqual({ active: false });
  });

  it('dependent tokens: only resource-server clients, only for tokens issued to them, only declared scopes', async () => {
    const rs = auth.clients.create({ name: 'portal-rs', public: false, resourceServer: true, dependentScopes: [SCOPES.transfer] });
    const c = code({ scopes: [clientScope(rs.client.id)] });
    const doc = await exchange(c);
    expect(doc.resource_server).toBe(rs.client.id);
    const deps = await oauth.token(basic(rs.client.id, rs.secret!), { grant_type: 'urn:globus:auth:grant_type:dependent_token', token: doc.access_token, access_type: 'offline' }) as TokenDoc[];
    expect(Array.isArray(deps)).toBe(true);
    expect(deps[0]).toMatchObject({ resource_server: TRANSFER_RS, scope: SCOPES.transfer });
    expect(deps[0]!.refresh_token).toBeTruthy();
    expect(checkAccessToken(auth, deps[0]!.access_token, TRANSFER_RS)).toMatchObject({ status: 'active', identityId: aliceId });
    await rejects(oauth.token(basic(conf.id, conf.secret), { grant_type: 'urn:globus:auth:grant_type:dependent_token', token: doc.access_token }), 'unauthorized_client');
    await rejects(oauth.token(basic(rs.client.id, rs.secret!), { grant_type: 'urn:globus:auth:grant_type:dependent_token', token: doc.access_token, scope: SCOPES.groupsAll }), 'invalid_scope');
    await rejects(oauth.token(basic(rs.client.id, rs.secret!), { grant_type: 'urn:globus:auth:grant_type:dependent_token', token: deps[0]!.access_token }), 'invalid_grant');
  });

  it('registers a client under a given id (an existing app\'s), once', () => {
    const id = '95fdeba8-fac2-42bd-a357-e068d82ff78e';
    expect(auth.clients.create({ id, name: 'globus-cli', public: true, redirectUris: [REDIRECT] }).client.id).toBe(id);
    expect(() => auth.clients.create({ id, name: 'again', public: true })).toThrow(expect.objectContaining({ code: 'ClientError.Conflict' }));
    expect(() => auth.clients.create({ id: 'not-a-uuid', name: 'x', public: true })).toThrow(expect.objectContaining({ code: 'ClientError.BadRequest' }));
    expect(oauth.validate(undefined, { client_id: id, token: 'unknown-token-value' })).toEqual({ active: false });
  });

  it('a disabled identity loses its tokens', async () => {
    const doc = await exchange(code());
    auth.accounts.setStatus(aliceId, 'closed');
    expect(checkAccessToken(auth, doc.other_tokens![0]!.access_token, TRANSFER_RS).status).toBe('inactive');
    await rejects(oauth.token(undefined, { grant_type: 'refresh_token', client_id: pub, refresh_token: doc.refresh_token! }), 'invalid_grant');
  });
});

describe('local passwords', () => {
  it('hashes with argon2id and verifies', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(h, 'correct horse battery')).toBe(true);
    expect(await verifyPassword(h, 'wrong')).toBe(false);
    expect(await verifyPassword(undefined, 'anything')).toBe(false);
  });
});
