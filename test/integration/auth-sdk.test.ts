import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, tempDir, type ControlHandle } from '../helpers/cluster.js';
import { ferryJson, headlessAuthorize, https, Jar, pkce } from './auth/helpers.js';

const DRIVER = fileURLToPath(new URL('./auth/sdk-driver.mjs', import.meta.url));
const T = 'urn:globus:auth:scope:transfer.api.globus.org:all';
const G = 'urn:globus:auth:scope:groups.api.globus.org:all';
const REDIRECT = 'http://127.0.0.1:47123/callback';

interface Line { step: string; status: number; ok: boolean; body: any }

function runDriver(env: Record<string, string>): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [DRIVER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, stderr: err, lines: out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) }));
  });
}

describe('Ferry Auth and Groups driven by @globus/sdk', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'control');
  let control: ControlHandle;
  let cc: { id: string; secret: string };
  let rs: { id: string; secret: string };
  let pubId: string;

  beforeAll(async () => {
    control = await startControl(dataDir);
    await ferryJson(['control', 'identity', 'create', '--data-dir', dataDir, '--username', 'alice@example.org', '--email', 'alice@example.org', '--display-name', 'Alice', '--password-stdin'], 'alice-password-1\n');
    const made = await ferryJson<{ client: { id: string }; included: { client_credential: { secret: string } } }>(['control', 'client', 'create', '--data-dir', dataDir, '--name', 'SDK app']);
    cc = { id: made.client.id, secret: made.included.client_credential.secret };
    const rsMade = await ferryJson<{ client: { id: string }; included: { client_credential: { secret: string } } }>(['control', 'client', 'create', '--data-dir', dataDir, '--name', 'Portal', '--resource-server', '--dependent-scopes', T]);
    rs = { id: rsMade.client.id, secret: rsMade.included.client_credential.secret };
    pubId = (await ferryJson<{ client: { id: string } }>(['control', 'client', 'create', '--data-dir', dataDir, '--name', 'Native app', '--public', '--redirect-uri', REDIRECT])).client.id;
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  it('runs client credentials, code exchange, refresh, introspect, validate, revoke, identities, userinfo, dependent tokens, groups and Transfer', async () => {
    const login = { url: control.url, ca: control.caPem, clientId: pubId, redirectUri: REDIRECT, username: 'alice@example.org', password: 'alice-password-1' };
    const p1 = pkce();
    const r1 = await headlessAuthorize({ ...login, scope: `openid profile email urn:globus:auth:scope:auth.globus.org:view_identities ${T} ${G}`, challenge: p1.challenge, state: 'xyz' });
    expect(r1.searchParams.get('state')).toBe('xyz');
    const p2 = pkce();
    const r2 = await headlessAuthorize({ ...login, scope: T, challenge: p2.challenge });
    const p3 = pkce();
    const r3 = await headlessAuthorize({ ...login, scope: `urn:globus:auth:scope:${rs.id}:all`, challenge: p3.challenge });
    const plan = {
      cc, rs, pub: { id: pubId }, code: r1.searchParams.get('code'), verifier: p1.verifier, code2: r2.searchParams.get('code'),
      redirect: REDIRECT, username: 'alice@example.org', rsCode: r3.searchParams.get('code'), rsVerifier: p3.verifier,
    };
    const { code, lines, stderr } = await runDriver({
      GLOBUS_SDK_SERVICE_URL_AUTH: control.url, GLOBUS_SDK_SERVICE_URL_TRANSFER: control.url, GLOBUS_SDK_SERVICE_URL_GROUPS: control.url,
      NODE_EXTRA_CA_CERTS: control.caFile, FERRY_AUTH_PLAN: JSON.stringify(plan),
    });
    expect(code, stderr + lines.map((l) => JSON.stringify(l)).join('\n')).toBe(0);
    const step = (name: string): Line => {
      const l = lines.find((x) => x.step === name);
      if (!l) throw new Error(`no step ${name}`);
      return l;
    };

    const ccDoc = step('cc').body;
    expect(step('cc').status).toBe(200);
    expect(ccDoc).toMatchObject({ resource_server: 'auth.globus.org', token_type: 'Bearer', expires_in: 172800 });
    expect(ccDoc.other_tokens).toEqual([expect.objectContaining({ resource_server: 'transfer.api.globus.org', scope: T })]);
    expect(typeof ccDoc.id_token).toBe('string');
    expect(step('cc.introspect').body).toMatchObject({ active: true, sub: cc.id, client_id: cc.id, scope: T, identity_set: [cc.id], aud: ['transfer.api.globus.org', cc.id] });
    expect(step('cc.introspect').body.identity_set_detail[0]).toMatchObject({ sub: cc.id, username: `${cc.id}@clients.auth.globus.org` });
    expect(step('cc.wrongSecret')).toMatchObject({ status: 401, body: { error: 'invalid_client', errors: [{ status: '401', code: 'INVALID_CLIENT' }] } });
    expect(step('cc.transfer.endpointSearch')).toMatchObject({ status: 200, body: { DATA_TYPE: 'endpoint_list' } });

    const ex = step('exchange').body;
    expect(ex.resource_server).toBe('auth.globus.org');
    expect(ex.other_tokens.map((t: { resource_server: string }) => t.resource_server).sort()).toEqual(['groups.api.globus.org', 'transfer.api.globus.org']);
    expect(ex.refresh_token).toBeTruthy();
    expect(step('exchange.again')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(step('validate').body).toEqual({ active: true });
    const aliceId = step('identities.byUsername.self').body.identities[0].id;
    expect(step('userinfo').body).toMatchObject({ sub: aliceId, preferred_username: 'alice@example.org', email: 'alice@example.org', name: 'Alice' });
    expect(step('userinfo').body.identity_set).toHaveLength(1);
    const found = step('identities.byUsername').body.identities;
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ username: 'alice@example.org', status: 'used', email: 'alice@example.org', name: 'Alice' });
    expect(step('identities.get').body.identity).toMatchObject({ id: aliceId, username: 'alice@example.org' });
    expect(step('transfer.withUserToken')).toMatchObject({ status: 200, body: { DATA_TYPE: 'endpoint_list' } });
    expect(step('transfer.withAuthToken')).toMatchObject({ status: 403, body: { code: 'PermissionDenied' } });
    expect(typeof step('transfer.withAuthToken').body.request_id).toBe('string');

    expect(step('refresh').body).toMatchObject({ resource_server: 'transfer.api.globus.org', scope: T, other_tokens: [] });
    expect(step('transfer.refreshed').status).toBe(200);

    expect(step('groups.create')).toMatchObject({ status: 201, body: { name: 'sdk group', my_memberships: [{ identity_id: aliceId, role: 'admin', status: 'active' }] } });
    expect(step('groups.act.add').body.add).toEqual([expect.objectContaining({ identity_id: cc.id, role: 'member', status: 'active' })]);
    expect(step('groups.policies.get').body).toMatchObject({ group_visibility: 'authenticated', group_members_visibility: 'members' });
    expect(step('groups.update').body).toMatchObject({ name: 'sdk group renamed' });
    expect(step('groups.get').body.memberships).toHaveLength(2);
    expect(step('groups.myGroups').body.map((g: { name: string }) => g.name)).toEqual(['sdk group renamed']);
    expect(step('groups.delete').status).toBe(200);

    expect(step('rs.exchange').body).toMatchObject({ resource_server: rs.id });
    const deps = step('dependent').body;
    expect(Array.isArray(deps)).toBe(true);
    expect(deps[0]).toMatchObject({ resource_server: 'transfer.api.globus.org', scope: T, token_type: 'Bearer' });
    expect(deps[0].refresh_token).toBeTruthy();
    expect(step('transfer.dependent').status).toBe(200);

    expect(step('revoke').status).toBe(200);
    expect(step('transfer.revoked')).toMatchObject({ status: 401, body: { code: 'ClientError.AuthenticationFailed' } });
    expect(step('refresh.reuse')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(step('transfer.afterReuse').status).toBe(401);
  });

  it('serves OIDC discovery and a JWKS that verifies id_tokens (signature, iss, aud, exp, nonce)', async () => {
    const d = JSON.parse((await https('GET', `${control.url}/.well-known/openid-configuration`, control.caPem)).body);
    expect(d).toMatchObject({ issuer: control.url, token_endpoint: `${control.url}/v2/oauth2/token`, jwks_uri: `${control.url}/jwk.json` });
    const raw = JSON.parse((await https('GET', d.jwks_uri, control.caPem)).body);
    expect(raw.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(raw.keys[0].d).toBeUndefined();
    // The keys come from the jwks_uri that discovery names, through jose's remote key set.
    let jwksFetches = 0;
    const jwks = createRemoteJWKSet(new URL(d.jwks_uri), {
      [customFetch]: async (url: string) => {
        jwksFetches += 1;
        const a = await https('GET', url, control.caPem);
        return new Response(a.body, { status: a.status, headers: { 'content-type': 'application/json' } });
      },
    });
    const verifyOptions = { issuer: d.issuer as string, algorithms: d.id_token_signing_alg_values_supported as string[], requiredClaims: ['exp', 'iat', 'sub'] };

    // Authorization code with a nonce: the id_token is for the client, about alice, with the nonce.
    const p = pkce();
    const nonce = randomBytes(16).toString('base64url');
    const back = await headlessAuthorize({
      url: control.url, ca: control.caPem, clientId: pubId, redirectUri: REDIRECT, username: 'alice@example.org', password: 'alice-password-1',
      scope: 'openid profile email', challenge: p.challenge, nonce, offline: false,
    });
    const answer = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
      form: { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: pubId, code_verifier: p.verifier },
    });
    expect(answer.status, answer.body).toBe(200);
    const doc = JSON.parse(answer.body) as { access_token: string; id_token: string };
    const info = JSON.parse((await https('GET', `${control.url}/v2/oauth2/userinfo`, control.caPem, { headers: { authorization: `Bearer ${doc.access_token}` } })).body);
    const { payload, protectedHeader } = await jwtVerify(doc.id_token, jwks, { ...verifyOptions, audience: pubId, requiredClaims: [...verifyOptions.requiredClaims, 'nonce'] });
    expect(jwksFetches).toBe(1);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: raw.keys[0].kid });
    expect(payload).toMatchObject({ iss: control.url, aud: pubId, sub: info.sub, nonce, preferred_username: 'alice@example.org', email: 'alice@example.org', name: 'Alice' });
    expect(payload.exp!).toBeGreaterThan(payload.iat!);
    expect(payload.exp!).toBeGreaterThan(Math.floor(Date.now() / 1000));

    // What verification refuses: another audience, a time after exp, a changed payload.
    await expect(jwtVerify(doc.id_token, jwks, { ...verifyOptions, audience: cc.id })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
    await expect(jwtVerify(doc.id_token, jwks, { ...verifyOptions, audience: pubId, currentDate: new Date((payload.exp! + 1) * 1000) })).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    await expect(jwtVerify(doc.id_token, jwks, { ...verifyOptions, issuer: 'https://auth.globus.org', audience: pubId })).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    const [h, body, sig] = doc.id_token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: cc.id })).toString('base64url');
    await expect(jwtVerify(`${h}.${forged}.${sig}`, jwks, { ...verifyOptions, audience: pubId })).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    expect(body).not.toBe(forged);

    // Client credentials with openid: the client is its own subject and audience; no nonce.
    const ccAnswer = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
      headers: { authorization: `Basic ${Buffer.from(`${cc.id}:${cc.secret}`).toString('base64')}` }, form: { grant_type: 'client_credentials', scope: 'openid' },
    });
    expect(ccAnswer.status, ccAnswer.body).toBe(200);
    const ccClaims = (await jwtVerify(JSON.parse(ccAnswer.body).id_token as string, jwks, { ...verifyOptions, audience: cc.id })).payload;
    expect(ccClaims).toMatchObject({ iss: control.url, aud: cc.id, sub: cc.id });
    expect(ccClaims.nonce).toBeUndefined();
  });

  it('keeps tokens, codes, client secrets and sessions in control.db only as hashes, and looks tokens up by the hash', async () => {
    const jar = new Jar();
    const p = pkce();
    const back = await headlessAuthorize({
      url: control.url, ca: control.caPem, clientId: pubId, redirectUri: REDIRECT, username: 'alice@example.org', password: 'alice-password-1',
      scope: `openid ${T}`, challenge: p.challenge, jar,
    });
    const code = back.searchParams.get('code')!;
    const exchanged = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
      form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: pubId, code_verifier: p.verifier },
    });
    expect(exchanged.status, exchanged.body).toBe(200);
    const doc = JSON.parse(exchanged.body) as { access_token: string; refresh_token: string; other_tokens: Array<{ resource_server: string; access_token: string; refresh_token: string }> };
    const transfer = doc.other_tokens.find((t) => t.resource_server === 'transfer.api.globus.org')!;
    const ccAnswer = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
      headers: { authorization: `Basic ${Buffer.from(`${cc.id}:${cc.secret}`).toString('base64')}` }, form: { grant_type: 'client_credentials', scope: T },
    });
    const ccToken = (JSON.parse(ccAnswer.body) as { access_token: string }).access_token;
    const personal = (await control.user('hashed@example.org')).token;
    const session = jar.get('ferry_session');
    expect(session).toBeTruthy();
    const secrets: Record<string, string> = {
      'auth access token': doc.access_token, 'auth refresh token': doc.refresh_token, 'transfer access token': transfer.access_token,
      'transfer refresh token': transfer.refresh_token, 'client credentials token': ccToken, 'admin-minted personal token': personal,
      'authorization code': code, 'client secret': cc.secret, 'resource server secret': rs.secret, 'login session': session!,
    };
    const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

    // Every column of every table, as text and as bytes; and the raw database and WAL files.
    const file = join(dataDir, 'control.db');
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const cells: Array<{ where: string; text: string; bytes: Buffer }> = [];
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['oauth_tokens', 'oauth_codes', 'oauth_clients', 'auth_sessions', 'tokens']));
      for (const { name } of tables) {
        const columns = (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>).map((c) => c.name);
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>) {
          for (const c of columns) {
            const v = row[c];
            if (typeof v === 'string') cells.push({ where: `${name}.${c}`, text: v, bytes: Buffer.from(v, 'utf8') });
            else if (Buffer.isBuffer(v)) cells.push({ where: `${name}.${c}`, text: v.toString('latin1'), bytes: v });
          }
        }
      }
    } finally {
      db.close();
    }
    const files = [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => ({ f, data: readFileSync(f) }));
    const found: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      const raw = Buffer.from(secret, 'base64url');
      for (const cell of cells) {
        if (cell.text.includes(secret)) found.push(`${what} in clear in ${cell.where}`);
        if (cell.bytes.includes(raw)) found.push(`${what} as raw bytes in ${cell.where}`);
      }
      for (const { f, data } of files) {
        if (data.includes(Buffer.from(secret, 'utf8'))) found.push(`${what} in clear in ${f}`);
        if (data.includes(raw)) found.push(`${what} as raw bytes in ${f}`);
      }
      // What is kept instead: its SHA-256 (so the scan did read the rows that hold it).
      if (!cells.some((c) => c.text === sha256(secret))) found.push(`no SHA-256 of ${what}`);
    }
    expect(found).toEqual([]);

    // The tokens still work, so the stored hash is what a presented token is checked against.
    const transferCall = (token: string) => https('GET', `${control.url}/v0.10/endpoint_search?filter_scope=my-endpoints`, control.caPem, { headers: { authorization: `Bearer ${token}` } });
    expect((await transferCall(transfer.access_token)).status).toBe(200);
    expect((await transferCall(ccToken)).status).toBe(200);
    expect((await transferCall(personal)).status).toBe(200);
    const validate = await https('POST', `${control.url}/v2/oauth2/token/validate`, control.caPem, { form: { token: doc.access_token, client_id: pubId } });
    expect(JSON.parse(validate.body)).toEqual({ active: true });
    // Change the stored hash and the token stops working; put it back and it works again.
    const rw = new Database(file, { fileMustExist: true });
    try {
      rw.pragma('busy_timeout = 5000');
      const moved = rw.prepare('UPDATE oauth_tokens SET token_hash = ? WHERE token_hash = ?');
      expect(moved.run(sha256('not the token'), sha256(transfer.access_token)).changes).toBe(1);
      expect((await transferCall(transfer.access_token)).status).toBe(401);
      expect(moved.run(sha256(transfer.access_token), sha256('not the token')).changes).toBe(1);
      expect((await transferCall(transfer.access_token)).status).toBe(200);
    } finally {
      rw.close();
    }
    const refreshed = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, { form: { grant_type: 'refresh_token', refresh_token: transfer.refresh_token, client_id: pubId } });
    expect(refreshed.status, refreshed.body).toBe(200);
  });

  it('keeps admin-minted tokens working as personal Transfer tokens', async () => {
    const user = await control.user('personal@example.org');
    const a = await https('GET', `${control.url}/v0.10/endpoint_search?filter_scope=my-endpoints`, control.caPem, { headers: { authorization: `Bearer ${user.token}` } });
    expect(a.status).toBe(200);
  });
});
