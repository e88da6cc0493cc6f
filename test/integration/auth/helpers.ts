import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { FERRY_BIN } from '../../helpers/process.js';

/** Run `ferry ARGS` with `input` on standard input (passwords, secrets). */
export function ferryWithInput(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [FERRY_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

export async function ferryJson<T = Record<string, unknown>>(args: string[], input = ''): Promise<T> {
  const r = await ferryWithInput(args, input);
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface HttpAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One HTTPS request, redirects not followed. */
export function https(method: string, url: string, ca: string, opts: { headers?: Record<string, string>; form?: Record<string, string>; json?: unknown } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.json !== undefined ? JSON.stringify(opts.json) : undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const req = request(url, { method, ca, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A cookie jar just big enough for the login pages. */
export class Jar {
  private readonly jar = new Map<string, string>();
  take(a: HttpAnswer): void {
    const set = a.headers['set-cookie'];
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }
  header(): Record<string, string> {
    return { cookie: [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  }
  get(name: string): string | undefined {
    return this.jar.get(name);
  }
}

export const hidden = (html: string, name: string): string => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)![1]!;

/**
 * Drive authorize → login → consent over plain HTTPS (no browser; the browser test covers the
 * real pages) and return the redirect the client would receive.
 */
export async function headlessAuthorize(input: {
  url: string; ca: string; clientId: string; redirectUri: string; scope: string; username: string; password: string;
  challenge?: string; state?: string; offline?: boolean; jar?: Jar; authorizeUrl?: string; nonce?: string;
}): Promise<URL> {
  const jar = input.jar ?? new Jar();
  const q = new URLSearchParams({ client_id: input.clientId, redirect_uri: input.redirectUri, response_type: 'code', scope: input.scope, state: input.state ?? 'st' });
  if (input.challenge) { q.set('code_challenge', input.challenge); q.set('code_challenge_method', 'S256'); }
  if (input.offline !== false) q.set('access_type', 'offline');
  if (input.nonce !== undefined) q.set('nonce', input.nonce);
  let a = await https('GET', input.authorizeUrl ?? `${input.url}/v2/oauth2/authorize?${q}`, input.ca, { headers: jar.header() });
  jar.take(a);
  if (a.status !== 302) throw new Error(`authorize answered ${a.status}: ${a.body}`);
  let next = new URL(a.headers.location as string, input.url).href;
  if (next.includes('/v2/web/login')) {
    a = await https('GET', next, input.ca, { headers: jar.header() });
    a = await https('POST', `${input.url}/v2/web/login`, input.ca, {
      headers: jar.header(),
      form: { interaction: hidden(a.body, 'interaction'), csrf: hidden(a.body, 'csrf'), username: input.username, password: input.password },
    });
    jar.take(a);
    if (a.status !== 303) throw new Error(`login answered ${a.status}: ${a.body}`);
    next = new URL(a.headers.location as string, input.url).href;
  }
  a = await https('GET', next, input.ca, { headers: jar.header() });
  if (a.status === 200) {
    a = await https('POST', `${input.url}/v2/web/consent`, input.ca, {
      headers: jar.header(), form: { interaction: hidden(a.body, 'interaction'), csrf: hidden(a.body, 'csrf'), decision: 'allow' },
    });
  }
  if (a.status !== 303) throw new Error(`consent answered ${a.status}: ${a.body}`);
  return new URL(a.headers.location as string);
}
