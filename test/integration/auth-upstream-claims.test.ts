import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cluster.js';
import { startAuthControl, type AuthControl } from './auth/control.js';
import { ferryJson, headlessAuthorize, hidden, https, Jar, pkce } from './auth/helpers.js';

const REDIRECT = 'http://127.0.0.1:47998/cb';
const VIEW = 'urn:globus:auth:scope:auth.globus.org:view_identities';

/**
 * `ferry control provider add-oidc --claim-*`: which upstream id_token claim fills each field
 * of the identity. The upstream provider is another Ferry control (its id_token carries
 * preferred_username, name, email, organization and identity_provider_display_name); one
 * provider keeps the default mapping, the other maps every field to a different claim. The
 * whole authorization-code flow, at Ferry and at the upstream, runs over real HTTPS without a
 * browser (the browser test covers the pages themselves).
 */
describe('upstream OpenID Connect claim mapping', () => {
  const dir = tempDir();
  let upstream: AuthControl;
  let control: AuthControl;
  let pubId: string;
  const providers: Record<'plain' | 'mapped', string> = { plain: '', mapped: '' };

  beforeAll(async () => {
    upstream = await startAuthControl(join(dir.path, 'upstream'));
    control = await startAuthControl(join(dir.path, 'control'), { NODE_EXTRA_CA_CERTS: upstream.caFile });
    type Made = { client: { id: string }; included: { client_credential: { secret: string } } };
    const rpFor = (domain: string) => ferryJson<Made>(['control', 'client', 'create', '--data-dir', upstream.dataDir, '--name', `Ferry (${domain})`, '--redirect-uri', `${control.url}/v2/web/oidc/callback`]);
    const [, rpPlain, rpMapped, pub] = await Promise.all([
      ferryJson(['control', 'identity', 'create', '--data-dir', upstream.dataDir, '--username', 'bob@uni.example', '--display-name', 'Bob Jones',
        '--email', 'robert.jones@mail.example', '--organization', 'Physics', '--password-stdin'], 'bob-password-22'),
      rpFor('uni.example'),
      rpFor('campus.example'),
      ferryJson<{ client: { id: string } }>(['control', 'client', 'create', '--data-dir', control.dataDir, '--name', 'Portal', '--public', '--redirect-uri', REDIRECT]),
    ]);
    pubId = pub.client.id;
    const add = async (domain: string, rp: Made, claims: string[]): Promise<string> => (await ferryJson<{ id: string }>([
      'control', 'provider', 'add-oidc', '--data-dir', control.dataDir, '--domain', domain, '--display-name', domain,
      '--issuer', upstream.url, '--client-id', rp.client.id, '--client-secret-stdin', ...claims,
    ], rp.included.client_credential.secret)).id;
    [providers.plain, providers.mapped] = await Promise.all([
      add('uni.example', rpPlain, []),
      add('campus.example', rpMapped, [
        '--claim-username', 'email', '--claim-name', 'preferred_username', '--claim-email', 'preferred_username', '--claim-organization', 'identity_provider_display_name',
      ]),
    ]);
  });
  afterAll(async () => {
    await control?.stop();
    await upstream?.stop();
    dir.cleanup();
  });

  /** Sign in at Ferry through `providerId` as bob (fresh browsers on both sides); return the userinfo and identity documents. */
  async function signInThrough(providerId: string): Promise<{ userinfo: Record<string, unknown>; identity: Record<string, unknown> }> {
    const jar = new Jar();
    const p = pkce();
    const q = new URLSearchParams({ client_id: pubId, redirect_uri: REDIRECT, response_type: 'code', scope: `openid profile email ${VIEW}`, state: 'portal', code_challenge: p.challenge, code_challenge_method: 'S256' });
    let a = await https('GET', `${control.url}/v2/oauth2/authorize?${q}`, control.caPem, { headers: jar.header() });
    jar.take(a);
    expect(a.status, a.body).toBe(302);
    a = await https('GET', new URL(a.headers.location as string, control.url).href, control.caPem, { headers: jar.header() });
    // The login page offers the provider; following its link leaves for the upstream's authorize endpoint.
    const link = new RegExp(`href="(/v2/web/login/oidc/${providerId}\\?interaction=[^"]+)"`).exec(a.body);
    expect(link, a.body).not.toBeNull();
    a = await https('GET', `${control.url}${link![1]!.replace(/&amp;/g, '&')}`, control.caPem, { headers: jar.header() });
    expect(a.status, a.body).toBe(302);
    const atUpstream = a.headers.location as string;
    expect(atUpstream.startsWith(`${upstream.url}/v2/oauth2/authorize?`)).toBe(true);
    const callback = await headlessAuthorize({
      url: upstream.url, ca: upstream.caPem, authorizeUrl: atUpstream, jar: new Jar(), clientId: '', redirectUri: '', scope: '', username: 'bob@uni.example', password: 'bob-password-22',
    });
    expect(callback.href.startsWith(`${control.url}/v2/web/oidc/callback?`)).toBe(true);
    a = await https('GET', callback.href, control.caPem, { headers: jar.header() });
    expect(a.status, a.body).toBe(303);
    jar.take(a);
    a = await https('GET', new URL(a.headers.location as string, control.url).href, control.caPem, { headers: jar.header() });
    expect(a.status, a.body).toBe(200);
    a = await https('POST', `${control.url}/v2/web/consent`, control.caPem, {
      headers: jar.header(), form: { interaction: hidden(a.body, 'interaction'), csrf: hidden(a.body, 'csrf'), decision: 'allow' },
    });
    expect(a.status, a.body).toBe(303);
    const back = new URL(a.headers.location as string);
    expect(back.searchParams.get('state')).toBe('portal');
    const t = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
      form: { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: pubId, code_verifier: p.verifier },
    });
    expect(t.status, t.body).toBe(200);
    const bearer = { authorization: `Bearer ${(JSON.parse(t.body) as { access_token: string }).access_token}` };
    const userinfo = JSON.parse((await https('GET', `${control.url}/v2/oauth2/userinfo`, control.caPem, { headers: bearer })).body) as Record<string, unknown>;
    const identity = (JSON.parse((await https('GET', `${control.url}/v2/api/identities/${userinfo['sub'] as string}`, control.caPem, { headers: bearer })).body) as { identity: Record<string, unknown> }).identity;
    return { userinfo, identity };
  }

  it('fills username, name, email and organization from the default claims', async () => {
    const { userinfo, identity } = await signInThrough(providers.plain);
    expect(userinfo).toMatchObject({ preferred_username: 'bob@uni.example', name: 'Bob Jones', email: 'robert.jones@mail.example', organization: 'Physics' });
    expect(identity).toMatchObject({ username: 'bob@uni.example', name: 'Bob Jones', email: 'robert.jones@mail.example', organization: 'Physics', identity_provider: providers.plain });
  });

  it('fills them from the claims the provider is configured with', async () => {
    const { userinfo, identity } = await signInThrough(providers.mapped);
    // username ← email's part before @, name and email ← preferred_username, organization ← identity_provider_display_name.
    const expected = { name: 'bob@uni.example', email: 'bob@uni.example', organization: 'Ferry (username and password)' };
    expect(userinfo).toMatchObject({ preferred_username: 'robert.jones@campus.example', ...expected });
    expect(identity).toMatchObject({ username: 'robert.jones@campus.example', ...expected, identity_provider: providers.mapped });
  });
});
