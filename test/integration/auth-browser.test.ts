import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, startFerry } from '../helpers/process.js';
import { tempDir } from '../helpers/cluster.js';
import { haveChromium, launchChromium } from './auth/browser.js';
import { startAuthControl, type AuthControl } from './auth/control.js';
import { ferryJson, https, pkce } from './auth/helpers.js';

const CLIENT_REDIRECT = 'http://127.0.0.1:47999/cb';

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
}

describe.skipIf(!haveChromium)('login and consent pages in a real browser', () => {
  const dir = tempDir();
  let upstream: AuthControl;
  let control: AuthControl;
  let browser: Browser;
  let pubId: string;
  const home = join(dir.path, 'home');

  beforeAll(async () => {
    // The upstream OpenID Connect provider is another Ferry control with its own local users.
    upstream = await startAuthControl(join(dir.path, 'upstream'));
    control = await startAuthControl(join(dir.path, 'control'), { NODE_EXTRA_CA_CERTS: upstream.caFile });
    await ferryJson(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'alice@example.org', '--display-name', 'Alice', '--password-stdin'], 'alice-password-1');
    await ferryJson(['control', 'identity', 'create', '--data-dir', upstream.dataDir, '--username', 'bob@uni.example', '--display-name', 'Bob', '--email', 'bob@uni.example', '--password-stdin'], 'bob-password-22');
    const rp = await ferryJson<{ client: { id: string }; included: { client_credential: { secret: string } } }>(
      ['control', 'client', 'create', '--data-dir', upstream.dataDir, '--name', 'Ferry at the lab', '--redirect-uri', `${control.url}/v2/web/oidc/callback`]);
    await ferryJson(['control', 'provider', 'add-oidc', '--data-dir', control.dataDir, '--domain', 'uni.example', '--display-name', 'University',
      '--issuer', upstream.url, '--client-id', rp.client.id, '--client-secret-stdin'], rp.included.client_credential.secret);
    pubId = (await ferryJson<{ client: { id: string } }>(['control', 'client', 'create', '--data-dir', control.dataDir, '--name', 'Lab portal', '--public', '--redirect-uri', CLIENT_REDIRECT])).client.id;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await control?.stop();
    await upstream?.stop();
    dir.cleanup();
  });

  it('ferry login: browser sign-in and consent, loopback redirect with state checked, whoami, Transfer, logout', async () => {
    const env = { FERRY_HOME: home, FERRY_URL: control.url, FERRY_CA: control.caFile, BROWSER: '/bin/true' };
    const login = startFerry(['login'], env);
    const m = await login.waitForLog(/\/v2\/oauth2\/authorize\?/);
    const url = m.trim();
    const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
    // A response that does not carry the login's state is refused (CSRF).
    const forged = await fetch(`${redirect.origin}/callback?code=forged&state=wrong`);
    expect(forged.status).toBe(400);

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url);
    await signIn(page, 'alice@example.org', 'wrong-password');
    expect(await page.textContent('[role=alert]')).toContain('Invalid username or password');
    await signIn(page, 'alice@example.org', 'alice-password-1');
    await page.waitForSelector('#allow');
    expect(await page.textContent('body')).toContain('Ferry command line');
    await page.click('#allow');
    await page.waitForURL(/127\.0\.0\.1:\d+\/callback/);
    expect(await page.textContent('body')).toContain('signed in');
    const done = await login.exited;
    expect(done.code, login.stderr()).toBe(0);
    expect(login.stdout()).toContain('Logged in as alice@example.org');
    await context.close();

    expect(statSync(join(home, 'auth.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'client.json')).mode & 0o777).toBe(0o600);
    const who = await runFerry(['whoami'], { FERRY_HOME: home });
    expect(who.stdout).toContain('alice@example.org');
    const eps = await runFerry(['endpoint', 'search', '--format', 'json'], { FERRY_HOME: home });
    expect(eps.code, eps.stderr).toBe(0);
    const out = await runFerry(['logout'], { FERRY_HOME: home });
    expect(out.stdout).toMatch(/Logged out \(\d+ tokens revoked\)/);
    const after = await runFerry(['whoami'], { FERRY_HOME: home });
    expect(after.code).not.toBe(0);
    // The password never reaches the logs.
    expect(control.proc.stderr()).not.toContain('alice-password-1');
    expect(control.proc.stderr()).not.toContain('wrong-password');
  });

  it('signs in through an upstream OpenID Connect provider, then links a local identity into the same account', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    let redirected: URL | undefined;
    await page.route('http://127.0.0.1:47999/**', async (route) => {
      redirected = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>back at the portal</p>' });
    });
    const authorize = async (extra: Record<string, string>) => {
      const p = pkce();
      redirected = undefined;
      const q = new URLSearchParams({ client_id: pubId, redirect_uri: CLIENT_REDIRECT, response_type: 'code', scope: 'openid profile email', state: 'portal-state', code_challenge: p.challenge, code_challenge_method: 'S256', ...extra });
      await page.goto(`${control.url}/v2/oauth2/authorize?${q}`);
      return p;
    };
    const exchange = async (verifier: string) => {
      expect(redirected?.searchParams.get('state')).toBe('portal-state');
      const a = await https('POST', `${control.url}/v2/oauth2/token`, control.caPem, {
        form: { grant_type: 'authorization_code', code: redirected!.searchParams.get('code')!, redirect_uri: CLIENT_REDIRECT, client_id: pubId, code_verifier: verifier },
      });
      expect(a.status, a.body).toBe(200);
      const doc = JSON.parse(a.body) as { access_token: string };
      return JSON.parse((await https('GET', `${control.url}/v2/oauth2/userinfo`, control.caPem, { headers: { authorization: `Bearer ${doc.access_token}` } })).body);
    };

    const p1 = await authorize({});
    await page.click('text=Sign in with University');
    await page.waitForSelector('#username');
    expect(page.url().startsWith(upstream.url)).toBe(true);
    await signIn(page, 'bob@uni.example', 'bob-password-22');
    await page.click('#allow');       // consent at the upstream provider
    await page.waitForSelector('#allow');
    expect(page.url().startsWith(control.url)).toBe(true);
    await page.click('#allow');       // consent at Ferry
    await page.waitForSelector('text=back at the portal');
    const bob = await exchange(p1.verifier);
    expect(bob).toMatchObject({ preferred_username: 'bob@uni.example', name: 'Bob', email: 'bob@uni.example' });

    // Signed in as bob@uni.example: logging in with a second identity links it.
    const p2 = await authorize({ prompt: 'login' });
    expect(await page.textContent('#signed-in')).toContain('bob@uni.example');
    await signIn(page, 'alice@example.org', 'alice-password-1');
    await page.waitForSelector('text=back at the portal');
    const linked = await exchange(p2.verifier);
    expect(linked.sub).toBe(bob.sub);
    expect((linked.identity_set as Array<{ username: string }>).map((i) => i.username).sort()).toEqual(['alice@example.org', 'bob@uni.example']);
    await context.close();
  });
});
