import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cluster.js';
import { startAuthControl, type AuthControl } from './auth/control.js';
import { ferryJson, ferryWithInput, headlessAuthorize, hidden, https, Jar, pkce } from './auth/helpers.js';

const REDIRECT = 'http://127.0.0.1:47555/cb';
const T = 'urn:globus:auth:scope:transfer.api.globus.org:all';

describe('Ferry Auth security', () => {
  const dir = tempDir();
  let control: AuthControl;
  let pubId: string;
  const ca = () => control.caPem;

  beforeAll(async () => {
    control = await startAuthControl(join(dir.path, 'control'), { FERRY_AUTH_TUNING: JSON.stringify({ codeTtlSeconds: 5, loginRateLimit: { max: 10, windowMs: 60_000 } }) });
    await ferryJson(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'carol@example.org', '--password-stdin'], 'carol-password-1');
    pubId = (await ferryJson<{ client: { id: string } }>(['control', 'client', 'create', '--data-dir', control.dataDir, '--name', 'app', '--public', '--redirect-uri', REDIRECT])).client.id;
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  const authorizeUrl = (extra: Record<string, string> = {}) => {
    const q = new URLSearchParams({ client_id: pubId, redirect_uri: REDIRECT, response_type: 'code', scope: T, state: 's1', code_challenge: pkce().challenge, code_challenge_method: 'S256', ...extra });
    return `${control.url}/v2/oauth2/authorize?${q}`;
  };

  it('matches redirect URIs exactly and never redirects to an unregistered one', async () => {
    for (const bad of [`${REDIRECT}/`, 'http://127.0.0.1:47556/cb', `${REDIRECT}?x=1`, 'https://evil.example/cb']) {
      const a = await https('GET', authorizeUrl({ redirect_uri: bad }), ca());
      expect(a.status, bad).toBe(400);
      expect(a.headers.location).toBeUndefined();
      expect(a.headers['content-security-policy']).toContain("default-src 'none'");
    }
  });

  it('requires PKCE (S256) from public clients and known scopes, answering through the redirect with state', async () => {
    const noPkce = await https('GET', authorizeUrl({ code_challenge: '', code_challenge_method: '' }).replace(/&code_challenge=&code_challenge_method=/, ''), ca());
    expect(noPkce.status).toBe(302);
    expect(new URL(noPkce.headers.location as string).searchParams.get('error')).toBe('invalid_request');
    const plain = await https('GET', authorizeUrl({ code_challenge_method: 'plain' }), ca());
    expect(new URL(plain.headers.location as string).searchParams.get('error')).toBe('invalid_request');
    const scope = await https('GET', authorizeUrl({ scope: 'urn:globus:auth:scope:nowhere:all' }), ca());
    const u = new URL(scope.headers.location as string);
    expect(u.searchParams.get('error')).toBe('invalid_scope');
    expect(u.searchParams.get('state')).toBe('s1');
  });

  it('checks the CSRF token and the browser binding of the login form', async () => {
    const jar = new Jar();
    let a = await https('GET', authorizeUrl(), ca());
    jar.take(a);
    a = await https('GET', new URL(a.headers.location as string, control.url).href, ca(), { headers: jar.header() });
    const interaction = hidden(a.body, 'interaction');
    const wrongCsrf = await https('POST', `${control.url}/v2/web/login`, ca(), { headers: jar.header(), form: { interaction, csrf: 'forged', username: 'carol@example.org', password: 'carol-password-1' } });
    expect(wrongCsrf.status).toBe(403);
    expect(wrongCsrf.headers['set-cookie']).toBeUndefined();
    // Another browser (no binding cookie) cannot use this sign-in request, even with its CSRF token.
    const otherBrowser = await https('POST', `${control.url}/v2/web/login`, ca(), { form: { interaction, csrf: hidden(a.body, 'csrf'), username: 'carol@example.org', password: 'carol-password-1' } });
    expect(otherBrowser.status).toBe(400);
    const cb = await https('GET', `${control.url}/v2/web/oidc/callback?code=x&state=forged`, ca(), { headers: jar.header() });
    expect(cb.status).toBe(400);
  });

  it('codes are single-use and short-lived; the PKCE verifier is checked', async () => {
    const login = { url: control.url, ca: ca(), clientId: pubId, redirectUri: REDIRECT, username: 'carol@example.org', password: 'carol-password-1', scope: T };
    const exchange = (code: string, verifier: string) => https('POST', `${control.url}/v2/oauth2/token`, ca(), {
      form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: pubId, code_verifier: verifier },
    });
    const p = pkce();
    const code = (await headlessAuthorize({ ...login, challenge: p.challenge })).searchParams.get('code')!;
    expect((await exchange(code, pkce().verifier)).status).toBe(400);
    // The failed attempt spent the code.
    expect(JSON.parse((await exchange(code, p.verifier)).body)).toMatchObject({ error: 'invalid_grant' });
    const p2 = pkce();
    const code2 = (await headlessAuthorize({ ...login, challenge: p2.challenge })).searchParams.get('code')!;
    const ok = await exchange(code2, p2.verifier);
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect((await exchange(code2, p2.verifier)).status).toBe(400);
    const p3 = pkce();
    const code3 = (await headlessAuthorize({ ...login, challenge: p3.challenge })).searchParams.get('code')!;
    // Past the codes' 5 s lifetime (short for this test; long enough that a loaded machine's
    // consent-to-exchange round trips elsewhere in this file never outlast it).
    await new Promise((r) => setTimeout(r, 5500));
    expect(JSON.parse((await exchange(code3, p3.verifier)).body)).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('expired') });
  });

  it('admin CLI: passwd, disable (tokens stop working) and link', async () => {
    const login = { url: control.url, ca: ca(), clientId: pubId, redirectUri: REDIRECT, scope: T };
    await ferryJson(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'dave@example.org', '--password-stdin'], 'dave-password-1');
    const short = await ferryWithInput(['control', 'identity', 'passwd', '--data-dir', control.dataDir, '--username', 'dave@example.org'], 'short');
    expect(short.code).not.toBe(0);
    await ferryJson(['control', 'identity', 'passwd', '--data-dir', control.dataDir, '--username', 'dave@example.org'], 'dave-password-2');
    const p = pkce();
    const code = (await headlessAuthorize({ ...login, username: 'dave@example.org', password: 'dave-password-2', challenge: p.challenge })).searchParams.get('code')!;
    const tok = JSON.parse((await https('POST', `${control.url}/v2/oauth2/token`, ca(), {
      form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: pubId, code_verifier: p.verifier },
    })).body) as { access_token: string };
    const search = () => https('GET', `${control.url}/v0.10/endpoint_search?filter_scope=my-endpoints`, ca(), { headers: { authorization: `Bearer ${tok.access_token}` } });
    expect((await search()).status).toBe(200);
    const linked = await ferryJson<{ identities: Array<{ username: string }> }>(['control', 'identity', 'link', '--data-dir', control.dataDir, '--username', 'carol@example.org', '--other', 'dave@example.org']);
    expect(linked.identities.map((i) => i.username).sort()).toEqual(['carol@example.org', 'dave@example.org']);
    const disabled = await ferryJson<{ revoked: number }>(['control', 'identity', 'disable', '--data-dir', control.dataDir, '--username', 'dave@example.org']);
    expect(disabled.revoked).toBeGreaterThan(0);
    expect((await search()).status).toBe(401);
    await expect(headlessAuthorize({ ...login, username: 'dave@example.org', password: 'dave-password-2', challenge: pkce().challenge })).rejects.toThrow(/login answered 401/);
  });

  it('rate-limits login attempts and never logs passwords', async () => {
    const jar = new Jar();
    let a = await https('GET', authorizeUrl(), ca());
    jar.take(a);
    a = await https('GET', new URL(a.headers.location as string, control.url).href, ca(), { headers: jar.header() });
    const form = { interaction: hidden(a.body, 'interaction'), csrf: hidden(a.body, 'csrf'), username: 'carol@example.org', password: 'not-carols-password' };
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await https('POST', `${control.url}/v2/web/login`, ca(), { headers: jar.header(), form })).status);
    expect(statuses).toContain(429);
    const limited = await https('POST', `${control.url}/v2/web/login`, ca(), { headers: jar.header(), form });
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toMatchObject({ error: 'too_many_requests', errors: [{ status: '429' }] });
    const logs = control.proc.stderr() + control.proc.stdout();
    for (const pw of ['not-carols-password', 'carol-password-1', 'dave-password-1', 'dave-password-2']) expect(logs).not.toContain(pw);
  });
});
