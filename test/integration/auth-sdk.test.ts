import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, tempDir, type ControlHandle } from '../helpers/cluster.js';
import { ferryJson, headlessAuthorize, https, pkce } from './auth/helpers.js';

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

  it('serves OIDC discovery and a JWKS that verifies id_tokens', async () => {
    const d = JSON.parse((await https('GET', `${control.url}/.well-known/openid-configuration`, control.caPem)).body);
    expect(d).toMatchObject({ issuer: control.url, token_endpoint: `${control.url}/v2/oauth2/token`, jwks_uri: `${control.url}/jwk.json` });
    const jwks = JSON.parse((await https('GET', `${control.url}/jwk.json`, control.caPem)).body);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();
  });

  it('keeps admin-minted tokens working as personal Transfer tokens', async () => {
    const user = await control.user('personal@example.org');
    const a = await https('GET', `${control.url}/v0.10/endpoint_search?filter_scope=my-endpoints`, control.caPem, { headers: { authorization: `Bearer ${user.token}` } });
    expect(a.status).toBe(200);
  });
});
