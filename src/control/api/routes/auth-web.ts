import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Identity } from '../../auth/accounts.js';
import { FERRY_CLI_CLIENT_ID, redirectAllowed } from '../../auth/clients.js';
import { type AuthorizeRequest, type Interaction, Interactions } from '../../auth/interactions.js';
import { codePage, consentPage, errorPage, loginPage } from '../../auth/pages.js';
import { verifyPassword } from '../../auth/passwords.js';
import { parseScopes } from '../../auth/scopes.js';
import type { AuthService } from '../../auth/service.js';
import { finishUpstreamLogin, startUpstreamLogin } from '../../auth/upstream.js';
import type { Api } from '../context.js';
import { formOf } from './auth-common.js';

/**
 * The browser side of the authorization-code flow: /v2/oauth2/authorize, then the login page
 * (local password or an upstream OIDC provider), then consent, then a redirect with the code.
 * A browser session (cookie) remembers who signed in; signing in with another identity while
 * signed in links the two. Forms carry a per-request CSRF token and the request is bound to the
 * browser by a cookie; login POSTs are rate-limited per address.
 */
const SESSION_COOKIE = 'ferry_session';
const bindingCookie = (id: string) => `ferry_ia_${id}`;

function cookies(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}

function setCookie(reply: FastifyReply, name: string, value: string, maxAgeSeconds: number): void {
  const c = `${name}=${encodeURIComponent(value)}; Path=/v2/; HttpOnly; Secure; SameSite=Lax; Max-Age=${maxAgeSeconds}`;
  const prev = reply.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev.map(String) : [String(prev)];
  void reply.header('set-cookie', [...list, c]);
}

/** Pages send their own CSP: no scripts, and forms may lead only here and to the client's redirect URI. */
function html(reply: FastifyReply, body: string, status = 200, formTargets: string[] = []): FastifyReply {
  const targets = ["'self'", ...formTargets].join(' ');
  return reply.code(status).type('text/html; charset=utf-8')
    .header('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${targets}; frame-ancestors 'none'; base-uri 'none'`)
    .header('Cache-Control', 'no-store').header('X-Frame-Options', 'DENY').header('Referrer-Policy', 'no-referrer')
    .send(body);
}

function redirectWith(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

export function registerAuthWebRoutes(app: Api, auth: AuthService, rateLimit: { max: number; timeWindow: number }): void {
  const interactions = new Interactions(auth.tuning.interactionTtlSeconds * 1000);
  const origin = (uri: string) => new URL(uri).origin;

  const sessionIdentity = (req: FastifyRequest): Identity | undefined => {
    const sid = cookies(req)[SESSION_COOKIE];
    const s = sid ? auth.grants.session(sid) : undefined;
    const i = s && auth.accounts.identity(s.identityId);
    return i && i.status === 'used' ? i : undefined;
  };
  const interactionOf = (req: FastifyRequest, id: string | undefined): Interaction | undefined =>
    id ? interactions.get(id, cookies(req)[bindingCookie(id)]) : undefined;
  const expired = (reply: FastifyReply) =>
    html(reply, errorPage('Sign-in expired', 'This sign-in request is unknown, expired, or was started in another browser. Start again from the application.'), 400);

  app.get('/v2/oauth2/authorize', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const client = q['client_id'] ? auth.clients.byId(q['client_id']) : undefined;
    // Without a known client and an exactly registered redirect URI there is no one safe to redirect to.
    if (!client || client.disabled) return html(reply, errorPage('Unknown application', 'The client_id is not registered with Ferry.'), 400);
    const redirectUri = q['redirect_uri'];
    const codePage = `${auth.issuer}/v2/web/auth-code`;
    if (!redirectUri || !(redirectAllowed(client, redirectUri) || (client.id === FERRY_CLI_CLIENT_ID && redirectUri === codePage))) {
      return html(reply, errorPage('Redirect URI not allowed', 'The redirect_uri does not exactly match one registered for this application.'), 400);
    }
    const fail = (error: string, description: string) => reply.redirect(redirectWith(redirectUri, { error, error_description: description, state: q['state'] }), 302);
    if (q['response_type'] !== 'code') return fail('unsupported_response_type', 'Only response_type=code is supported');
    const scopes = parseScopes(q['scope']);
    if (scopes.length === 0) return fail('invalid_scope', 'scope is required');
    const unknown = scopes.filter((s) => auth.resourceServerOf(s) === undefined);
    if (unknown.length) return fail('invalid_scope', `Unknown scope(s): ${unknown.join(' ')}`);
    const challenge = q['code_challenge'];
    if (challenge !== undefined && (q['code_challenge_method'] ?? 'plain') !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    if (challenge !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request', 'code_challenge is malformed');
    if (client.public && challenge === undefined) return fail('invalid_request', 'PKCE (code_challenge) is required for public clients');
    const request: AuthorizeRequest = {
      clientId: client.id, redirectUri, scopes, state: q['state'], codeChallenge: challenge ?? null, nonce: q['nonce'] ?? null,
      offline: q['access_type'] === 'offline', forceLogin: q['prompt'] === 'login',
    };
    const { interaction, binding } = interactions.create(request);
    setCookie(reply, bindingCookie(interaction.id), binding, auth.tuning.interactionTtlSeconds);
    const next = sessionIdentity(req) && !request.forceLogin ? 'consent' : 'login';
    return reply.redirect(`/v2/web/${next}?interaction=${encodeURIComponent(interaction.id)}`, 302);
  });

  const showLogin = (reply: FastifyReply, req: FastifyRequest, i: Interaction, error?: string, username = '', status = 200) => {
    const client = auth.clients.byId(i.request.clientId)!;
    return html(reply, loginPage({
      interaction: i.id, csrf: i.csrf, clientName: client.name, signedInAs: sessionIdentity(req)?.username, error, username,
      upstream: auth.accounts.oidcProviders().map((p) => ({ id: p.id, name: p.displayName })),
    }), status, [origin(i.request.redirectUri)]);
  };

  app.get('/v2/web/login', async (req, reply) => {
    const i = interactionOf(req, (req.query as Record<string, string | undefined>)['interaction']);
    if (!i) return expired(reply);
    return showLogin(reply, req, i);
  });

  /** Sign `identity` in: link it into the signed-in account, or start a session; then go to consent. */
  const signedIn = (req: FastifyRequest, reply: FastifyReply, i: Interaction, identity: Identity) => {
    const current = sessionIdentity(req);
    if (current && current.accountId !== identity.accountId) {
      auth.accounts.link(current.id, identity.id);
      req.log.info({ account: current.accountId, linked: identity.id }, 'identity linked');
    } else if (!current || current.accountId !== identity.accountId) {
      setCookie(reply, SESSION_COOKIE, auth.grants.createSession(identity.id, auth.tuning.sessionTtlSeconds * 1000), auth.tuning.sessionTtlSeconds);
    }
    return reply.redirect(`/v2/web/consent?interaction=${encodeURIComponent(i.id)}`, 303);
  };

  app.post('/v2/web/login', { config: { rateLimit: rateLimit } }, async (req, reply) => {
    const form = formOf(req.body);
    const i = interactionOf(req, form['interaction']);
    if (!i) return expired(reply);
    if (form['csrf'] !== i.csrf) return html(reply, errorPage('Request refused', 'The form token did not match; reload the sign-in page.'), 403);
    const username = (form['username'] ?? '').trim();
    const identity = username ? auth.accounts.byUsername(username) : undefined;
    const local = identity && identity.providerId === auth.accounts.localProvider().id && identity.status === 'used' ? identity : undefined;
    const ok = await verifyPassword(local ? auth.accounts.passwordHash(local.id) : undefined, form['password'] ?? '');
    if (!ok || !local) {
      // The password itself is never logged.
      req.log.info({ username }, 'login failed');
      return showLogin(reply, req, i, 'Invalid username or password.', username, 401);
    }
    req.log.info({ identity: local.id }, 'login succeeded');
    return signedIn(req, reply, i, local);
  });

  app.get<{ Params: { provider: string } }>('/v2/web/login/oidc/:provider', async (req, reply) => {
    const i = interactionOf(req, (req.query as Record<string, string | undefined>)['interaction']);
    if (!i) return expired(reply);
    const p = auth.accounts.provider(req.params.provider);
    if (!p || p.kind !== 'oidc' || p.disabled || !p.oidc) return html(reply, errorPage('Unknown provider', 'No such identity provider.'), 404);
    try {
      const start = await startUpstreamLogin(p, `${auth.issuer}/v2/web/oidc/callback`);
      i.upstream = { providerId: p.id, state: start.state, nonce: start.nonce, verifier: start.verifier };
      return reply.redirect(start.url, 302);
    } catch (err) {
      req.log.warn({ err, provider: p.id }, 'upstream provider unavailable');
      return html(reply, errorPage('Provider unavailable', `${p.displayName} could not be reached; try again later.`), 502);
    }
  });

  app.get('/v2/web/oidc/callback', { config: { rateLimit: rateLimit } }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const all = cookies(req);
    let found: Interaction | undefined;
    for (const [name, value] of Object.entries(all)) {
      if (!name.startsWith('ferry_ia_')) continue;
      const i = interactions.get(name.slice('ferry_ia_'.length), value);
      if (i?.upstream && i.upstream.state === q['state']) found = i;
    }
    // An unknown or mismatched state is refused before anything is sent upstream (CSRF).
    if (!found?.upstream) return html(reply, errorPage('Sign-in refused', 'The state parameter does not match a sign-in started in this browser.'), 400);
    const p = auth.accounts.provider(found.upstream.providerId);
    if (!p || !p.oidc) return expired(reply);
    const checks = found.upstream;
    delete found.upstream;
    try {
      const identity = await finishUpstreamLogin(p, auth.accounts, new URL(req.url, auth.issuer), checks);
      if (identity.status !== 'used') return html(reply, errorPage('Sign-in refused', 'This identity is disabled.'), 403);
      req.log.info({ identity: identity.id, provider: p.id }, 'upstream login succeeded');
      return signedIn(req, reply, found, identity);
    } catch (err) {
      req.log.warn({ err: (err as Error).message, provider: p.id }, 'upstream login failed');
      return html(reply, errorPage('Sign-in failed', `${p.displayName} did not confirm the sign-in.`), 400);
    }
  });

  const consentScopes = (i: Interaction) => i.request.scopes.map((scope) => ({ scope, description: auth.scopeDescription(scope) }));

  /** Issue the code and send the browser back to the client. */
  const grant = (reply: FastifyReply, i: Interaction, identity: Identity) => {
    const code = auth.grants.createCode({
      clientId: i.request.clientId, identityId: identity.accountId, scopes: i.request.scopes, redirectUri: i.request.redirectUri,
      codeChallenge: i.request.codeChallenge, nonce: i.request.nonce, offline: i.request.offline, authTime: Date.now(),
      ttlMs: auth.tuning.codeTtlSeconds * 1000,
    });
    interactions.finish(i.id);
    return reply.redirect(redirectWith(i.request.redirectUri, { code, state: i.request.state }), 303);
  };

  app.get('/v2/web/consent', async (req, reply) => {
    const i = interactionOf(req, (req.query as Record<string, string | undefined>)['interaction']);
    if (!i) return expired(reply);
    const who = sessionIdentity(req);
    if (!who) return reply.redirect(`/v2/web/login?interaction=${encodeURIComponent(i.id)}`, 302);
    const given = auth.grants.consented(who.accountId, i.request.clientId);
    if (i.request.scopes.every((s) => given.includes(s))) return grant(reply, i, who);
    const client = auth.clients.byId(i.request.clientId)!;
    return html(reply, consentPage({ interaction: i.id, csrf: i.csrf, clientName: client.name, username: who.username, scopes: consentScopes(i) }),
      200, [origin(i.request.redirectUri)]);
  });

  app.post('/v2/web/consent', async (req, reply) => {
    const form = formOf(req.body);
    const i = interactionOf(req, form['interaction']);
    if (!i) return expired(reply);
    if (form['csrf'] !== i.csrf) return html(reply, errorPage('Request refused', 'The form token did not match; reload the page.'), 403);
    const who = sessionIdentity(req);
    if (!who) return reply.redirect(`/v2/web/login?interaction=${encodeURIComponent(i.id)}`, 303);
    if (form['decision'] !== 'allow') {
      interactions.finish(i.id);
      return reply.redirect(redirectWith(i.request.redirectUri, { error: 'access_denied', error_description: 'The user denied access', state: i.request.state }), 303);
    }
    auth.grants.addConsent(who.accountId, i.request.clientId, i.request.scopes);
    return grant(reply, i, who);
  });

  /** Where `ferry login --no-browser` sends the browser: show the code to paste into the terminal. */
  app.get('/v2/web/auth-code', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    if (q['error'] || !q['code']) return html(reply, errorPage('Sign-in not completed', q['error_description'] ?? q['error'] ?? 'No code was issued.'), 400);
    return html(reply, codePage(q['code']));
  });

  app.get('/v2/web/logout', async (req, reply) => {
    const sid = cookies(req)[SESSION_COOKIE];
    if (sid) auth.grants.endSession(sid);
    setCookie(reply, SESSION_COOKIE, '', 0);
    return html(reply, errorPage('Signed out', 'You are signed out of Ferry.'));
  });
}
