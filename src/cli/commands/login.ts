import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';
import { clientConfigPath, ferryHome, readCaFile, writeClientConfig } from '../client-config.js';
import { loadConfigFile } from '../../common/config-file.js';
import { ClientConfig } from '../client-config.js';

/**
 * `ferry login` (authorization code + PKCE with a loopback redirect, or `--no-browser` with a
 * pasted code), `ferry logout` (revokes) and `ferry whoami`. Tokens live in
 * `$FERRY_HOME/auth.json` (0600); the Transfer access token is also written to client.json so
 * every client command uses it, and it is refreshed before it expires (see refreshIfNeeded,
 * run before each command).
 */
export const FERRY_CLI_CLIENT_ID = 'f3e1c2a4-0b7d-4c5e-9a61-2d8f0c7b3e15';
const AUTH_FILE = 'auth.json';
const SCOPES = [
  'openid', 'profile', 'email', 'urn:globus:auth:scope:auth.globus.org:view_identities',
  'urn:globus:auth:scope:transfer.api.globus.org:all', 'urn:globus:auth:scope:groups.api.globus.org:all',
];
/** Refresh when the Transfer token has less than this left. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const LOGIN_TIMEOUT_MS = 10 * 60_000;

interface StoredToken { access_token: string; refresh_token?: string; expires_at: number; scope: string }
export interface AuthFile {
  url: string; caFile?: string; clientId: string; tokens: Record<string, StoredToken>;
  /** The token client.json held before `ferry login` (e.g. quickstart's); logout puts it back. */
  previousToken?: string;
}

const authPath = (home: string) => join(home, AUTH_FILE);

export function readAuthFile(home = ferryHome()): AuthFile | undefined {
  const file = authPath(home);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as AuthFile;
  } catch {
    throw new FerryError('Config.Invalid', `${file} is not valid JSON; remove it and run \`ferry login\``);
  }
}

function writeAuthFile(home: string, value: AuthFile): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = authPath(home);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Point client.json at the Transfer token, keeping its URL and CA. */
function syncClientConfig(home: string, a: AuthFile): void {
  const t = a.tokens['transfer.api.globus.org'];
  if (!t) return;
  writeClientConfig(home, { version: 1, url: a.url, token: t.access_token, ...(a.caFile ? { caFile: a.caFile } : {}) });
}

interface TokenAnswer { access_token: string; refresh_token?: string; expires_in: number; resource_server: string; scope: string; other_tokens?: TokenAnswer[] }

function post(url: string, ca: string | undefined, form: Record<string, string>, bearer?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolvePost, reject) => {
    const body = bearer === undefined ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (bearer !== undefined) headers['authorization'] = `Bearer ${bearer}`;
    const req = request(url, { method: bearer === undefined ? 'POST' : 'GET', headers, ...(ca ? { ca } : {}), timeout: 30_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => {
        let parsed: unknown = null;
        try { parsed = JSON.parse(text); } catch { parsed = { error_description: text }; }
        resolvePost({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new FerryError('ServiceUnavailable', `cannot reach ${url}: ${err.message}`)));
    req.end(body);
  });
}

function storeAnswer(a: AuthFile, doc: TokenAnswer): void {
  for (const t of [doc, ...(doc.other_tokens ?? [])]) {
    const prev = a.tokens[t.resource_server];
    a.tokens[t.resource_server] = {
      access_token: t.access_token, expires_at: Date.now() + t.expires_in * 1000, scope: t.scope,
      ...(t.refresh_token ?? prev?.refresh_token ? { refresh_token: t.refresh_token ?? prev!.refresh_token! } : {}),
    };
  }
}

function authError(body: any, what: string): FerryError {
  const msg = body?.error_description ?? body?.error ?? 'unknown error';
  return new FerryError('ClientError.AuthenticationFailed', `${what}: ${msg}`);
}

/** Where control is and which CA to trust: --url/--ca, FERRY_URL/FERRY_CA, auth.json, client.json. */
function locateControl(home: string, opts: { url?: string; ca?: string }): { url: string; caFile: string | undefined } {
  const prior = readAuthFile(home);
  const cfgFile = clientConfigPath(home);
  const cfg = existsSync(cfgFile) ? loadConfigFile(cfgFile, ClientConfig) : undefined;
  const url = opts.url ?? process.env['FERRY_URL'] ?? prior?.url ?? cfg?.url;
  if (!url) throw new FerryError('Config.NotFound', 'no control URL: pass --url https://HOST:PORT (or set FERRY_URL, or run `ferry quickstart`)');
  if (!/^https:\/\//.test(url)) throw new FerryError('Config.Invalid', `control URL '${url}' must start with https://`);
  const ca = opts.ca ?? process.env['FERRY_CA'] ?? prior?.caFile ?? cfg?.caFile;
  return { url: url.replace(/\/+$/, ''), caFile: ca === undefined ? undefined : resolve(home, ca) };
}

function openBrowser(url: string): void {
  const cmd = process.env['BROWSER'] ?? (process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open');
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => { /* the URL is printed too */ });
    child.unref();
  } catch {
    // The URL is printed too.
  }
}

/** Wait on the loopback server for the redirect that carries our `state`; others are refused (CSRF). */
function waitForCode(server: Server, state: string): Promise<string> {
  return new Promise((resolveCode, reject) => {
    const timer = setTimeout(() => reject(new FerryError('ClientError.AuthenticationFailed', 'login timed out')), LOGIN_TIMEOUT_MS);
    server.on('request', (req, res) => {
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const page = (status: number, text: string) => {
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(`<!doctype html><meta charset="utf-8"><title>Ferry login</title><p>${text}</p>`);
      };
      if (u.pathname !== '/callback') return page(404, 'Not found.');
      if (u.searchParams.get('state') !== state) return page(400, 'This sign-in response does not belong to the waiting <code>ferry login</code> (state mismatch); it was ignored.');
      const error = u.searchParams.get('error');
      const code = u.searchParams.get('code');
      clearTimeout(timer);
      if (error || !code) {
        page(400, 'Sign-in was not completed. You can close this window.');
        reject(new FerryError('ClientError.AuthenticationFailed', `login failed: ${u.searchParams.get('error_description') ?? error ?? 'no code'}`));
        return;
      }
      page(200, 'You are signed in to Ferry. You can close this window and return to the terminal.');
      resolveCode(code);
    });
  });
}

async function promptCode(): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise<string>((r) => rl.question('Paste the code here: ', (a) => r(a.trim())));
  } finally {
    rl.close();
  }
}

export async function login(opts: { url?: string; ca?: string; browser: boolean }): Promise<AuthFile> {
  const home = ferryHome();
  const { url, caFile } = locateControl(home, opts);
  const ca = readCaFile(caFile);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  let server: Server | undefined;
  let redirectUri: string;
  if (opts.browser) {
    server = createServer();
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    redirectUri = `http://127.0.0.1:${port}/callback`;
  } else {
    redirectUri = `${url}/v2/web/auth-code`;
  }
  const q = new URLSearchParams({
    client_id: FERRY_CLI_CLIENT_ID, redirect_uri: redirectUri, response_type: 'code', scope: SCOPES.join(' '), state,
    code_challenge: challenge, code_challenge_method: 'S256', access_type: 'offline',
  });
  const authorizeUrl = `${url}/v2/oauth2/authorize?${q}`;
  let code: string;
  try {
    if (server) {
      process.stderr.write(`Opening your browser to sign in. If it does not open, visit:\n\n  ${authorizeUrl}\n\n`);
      const waiting = waitForCode(server, state);
      openBrowser(authorizeUrl);
      code = await waiting;
    } else {
      process.stderr.write(`Visit this URL, sign in, and paste the code it shows:\n\n  ${authorizeUrl}\n\n`);
      code = await promptCode();
    }
  } finally {
    server?.close();
  }
  const res = await post(`${url}/v2/oauth2/token`, ca, {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: FERRY_CLI_CLIENT_ID, code_verifier: verifier,
  });
  if (res.status !== 200) throw authError(res.body, 'login failed');
  const a: AuthFile = { url, ...(caFile ? { caFile } : {}), clientId: FERRY_CLI_CLIENT_ID, tokens: {} };
  const prior = readAuthFile(home);
  const cfgFile = clientConfigPath(home);
  const held = existsSync(cfgFile) ? loadConfigFile(cfgFile, ClientConfig).token : undefined;
  const loginTokens = new Set(Object.values(prior?.tokens ?? {}).map((t) => t.access_token));
  const previous = held !== undefined && !loginTokens.has(held) ? held : prior?.previousToken;
  if (previous !== undefined) a.previousToken = previous;
  storeAnswer(a, res.body as TokenAnswer);
  writeAuthFile(home, a);
  syncClientConfig(home, a);
  return a;
}

/**
 * Before each command: refresh the stored Transfer token (and others) when it is about to expire.
 * Nothing happens without `ferry login`, or when FERRY_TOKEN overrides the stored token.
 */
export async function refreshIfNeeded(now = Date.now()): Promise<void> {
  if (process.env['FERRY_TOKEN']) return;
  const home = ferryHome();
  const a = readAuthFile(home);
  const t = a?.tokens['transfer.api.globus.org'];
  if (!a || !t || t.expires_at - now > REFRESH_MARGIN_MS) return;
  const ca = readCaFile(a.caFile);
  for (const [rs, tok] of Object.entries(a.tokens)) {
    if (!tok.refresh_token || tok.expires_at - now > REFRESH_MARGIN_MS) continue;
    const res = await post(`${a.url}/v2/oauth2/token`, ca, { grant_type: 'refresh_token', refresh_token: tok.refresh_token, client_id: a.clientId });
    if (res.status !== 200) {
      delete a.tokens[rs];
      writeAuthFile(home, a);
      throw authError(res.body, `your ${rs} session ended; run \`ferry login\` again`);
    }
    storeAnswer(a, res.body as TokenAnswer);
  }
  writeAuthFile(home, a);
  syncClientConfig(home, a);
}

/** Revoke every stored token, forget them, and drop client.json when it held the login's token. */
export async function logout(): Promise<number> {
  const home = ferryHome();
  const a = readAuthFile(home);
  if (!a || Object.keys(a.tokens).length === 0) return 0;
  const ca = readCaFile(a.caFile);
  let revoked = 0;
  for (const t of Object.values(a.tokens)) {
    for (const token of [t.refresh_token, t.access_token]) {
      if (!token) continue;
      const res = await post(`${a.url}/v2/oauth2/token/revoke`, ca, { token, client_id: a.clientId });
      if (res.status === 200) revoked++;
    }
  }
  const cfgFile = clientConfigPath(home);
  const transfer = a.tokens['transfer.api.globus.org']?.access_token;
  if (transfer && existsSync(cfgFile)) {
    const cfg = loadConfigFile(cfgFile, ClientConfig);
    if (cfg.token === transfer) {
      // Put back the token that was there before login (quickstart's personal token), if any.
      if (a.previousToken !== undefined) writeClientConfig(home, { ...cfg, token: a.previousToken });
      else rmSync(cfgFile, { force: true });
    }
  }
  writeAuthFile(home, { url: a.url, ...(a.caFile ? { caFile: a.caFile } : {}), clientId: a.clientId, tokens: {} });
  return revoked;
}

export async function whoami(): Promise<Record<string, unknown>> {
  const a = readAuthFile();
  const t = a?.tokens['auth.globus.org'];
  if (!a || !t) throw new FerryError('ClientError.AuthenticationFailed', 'not logged in with Ferry Auth; run `ferry login`');
  const res = await post(`${a.url}/v2/oauth2/userinfo`, readCaFile(a.caFile), {}, t.access_token);
  if (res.status !== 200) throw authError(res.body, 'whoami failed');
  return res.body as Record<string, unknown>;
}

export function registerLoginCommands(program: Command): void {
  program.command('login')
    .description('sign in to Ferry Auth in your browser (authorization code + PKCE) and keep the tokens in $FERRY_HOME/auth.json')
    .option('--no-browser', 'print a URL to open anywhere, then paste the code it shows')
    .option('--url <url>', 'control URL (default FERRY_URL or the saved one)')
    .option('--ca <file>', "PEM of control's CA (default FERRY_CA or the saved one)")
    .action(async (opts: { browser: boolean; url?: string; ca?: string }) => {
      await login(opts);
      const me = await whoami();
      process.stdout.write(`Logged in as ${String(me['preferred_username'] ?? me['sub'])} (${String(me['sub'])})\n`);
    });
  program.command('logout')
    .description('revoke the tokens from `ferry login` and forget them')
    .action(async () => {
      const n = await logout();
      process.stdout.write(n === 0 ? 'Not logged in.\n' : `Logged out (${n} tokens revoked).\n`);
    });
  program.command('whoami')
    .description('show who you are logged in as, with your linked identities')
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: { format: string }) => {
      const me = await whoami();
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify(me, null, 2)}\n`);
        return;
      }
      const set = (me['identity_set'] as Array<{ sub: string; username?: string }> | undefined) ?? [];
      process.stdout.write(`${String(me['preferred_username'] ?? me['sub'])}\n`);
      for (const i of set) if (i.sub !== me['sub']) process.stdout.write(`  linked: ${i.username ?? i.sub} (${i.sub})\n`);
    });
}
