import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN, runFerry } from '../helpers/process.js';
import { tempDir } from '../helpers/cluster.js';
import { startAuthControl, type AuthControl } from './auth/control.js';
import { ferryJson, headlessAuthorize, https } from './auth/helpers.js';

describe('ferry login --no-browser, token refresh, whoami and ferry group', () => {
  const dir = tempDir();
  const home = join(dir.path, 'home');
  let control: AuthControl;
  let bobId: string;

  beforeAll(async () => {
    control = await startAuthControl(join(dir.path, 'control'));
    await ferryJson(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'erin@example.org', '--password-stdin'], 'erin-password-1');
    bobId = (await ferryJson<{ id: string }>(['control', 'identity', 'create', '--data-dir', control.dataDir, '--username', 'frank@example.org'])).id;
  });
  afterAll(async () => {
    await control?.stop();
    dir.cleanup();
  });

  it('logs in by pasting the code, refreshes by itself, and manages groups', async () => {
    // A personal token from before (as quickstart writes): login replaces it, logout puts it back.
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'client.json'), JSON.stringify({ version: 1, url: control.url, token: 'personal-token-from-quickstart', caFile: control.caFile }), { mode: 0o600 });
    const env = { ...process.env, FERRY_HOME: home, FERRY_URL: control.url, FERRY_CA: control.caFile };
    const p = spawn(process.execPath, [FERRY_BIN, 'login', '--no-browser'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const url = await new Promise<string>((resolve) => p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /(https:\/\/\S+\/v2\/oauth2\/authorize\?\S+)/.exec(err);
      if (m && err.includes('Paste the code')) resolve(m[1]!);
    }));
    const landing = await headlessAuthorize({ url: control.url, ca: control.caPem, clientId: '', redirectUri: '', scope: '', username: 'erin@example.org', password: 'erin-password-1', authorizeUrl: url });
    expect(landing.pathname).toBe('/v2/web/auth-code');
    const page = await https('GET', landing.href, control.caPem);
    const code = /id="code" readonly value="([^"]+)"/.exec(page.body)![1]!;
    p.stdin.end(`${code}\n`);
    const exit = await new Promise<number | null>((r) => p.on('exit', r));
    expect(exit, err).toBe(0);
    expect(out).toContain('Logged in as erin@example.org');

    // Expire the stored Transfer token: the next command refreshes it by itself.
    const file = join(home, 'auth.json');
    const before = JSON.parse(readFileSync(file, 'utf8'));
    before.tokens['transfer.api.globus.org'].expires_at = Date.now() - 1000;
    writeFileSync(file, JSON.stringify(before));
    const search = await runFerry(['endpoint', 'search', '--format', 'json'], { FERRY_HOME: home });
    expect(search.code, search.stderr).toBe(0);
    const after = JSON.parse(readFileSync(file, 'utf8'));
    expect(after.tokens['transfer.api.globus.org'].access_token).not.toBe(before.tokens['transfer.api.globus.org'].access_token);
    expect(after.tokens['transfer.api.globus.org'].expires_at).toBeGreaterThan(Date.now());
    expect(JSON.parse(readFileSync(join(home, 'client.json'), 'utf8')).token).toBe(after.tokens['transfer.api.globus.org'].access_token);

    const created = await runFerry(['group', 'create', 'lab', '--description', 'the lab'], { FERRY_HOME: home });
    expect(created.code, created.stderr).toBe(0);
    const gid = (JSON.parse(created.stdout) as { id: string }).id;
    const added = await runFerry(['group', 'invite', gid, 'frank@example.org'], { FERRY_HOME: home });
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toEqual([expect.objectContaining({ identity_id: bobId, status: 'invited' })]);
    const shown = JSON.parse((await runFerry(['group', 'show', gid], { FERRY_HOME: home })).stdout);
    expect(shown.memberships.map((m: { username: string; role: string }) => `${m.username}:${m.role}`).sort()).toEqual(['erin@example.org:admin', 'frank@example.org:member']);
    const list = await runFerry(['group', 'list'], { FERRY_HOME: home });
    expect(list.stdout).toContain(`${gid}  lab  (admin)`);
    const who = await runFerry(['whoami', '--format', 'json'], { FERRY_HOME: home });
    expect(JSON.parse(who.stdout)).toMatchObject({ preferred_username: 'erin@example.org' });
    expect((await runFerry(['logout'], { FERRY_HOME: home })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(home, 'client.json'), 'utf8')).token).toBe('personal-token-from-quickstart');
    const revoked = await https('GET', `${control.url}/v0.10/endpoint_search?filter_scope=my-endpoints`, control.caPem, { headers: { authorization: `Bearer ${after.tokens['transfer.api.globus.org'].access_token}` } });
    expect(revoked.status).toBe(401);
  });
});
