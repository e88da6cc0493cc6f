import { createHash, timingSafeEqual } from 'node:crypto';
import { newId } from '../../common/ids.js';
import type { Identity } from './accounts.js';
import type { ClientRecord } from './clients.js';
import { identitySetEntry } from './documents.js';
import { AuthError, unauthorized } from './errors.js';
import { AUTH_RS, byResourceServer, parseScopes, SCOPES } from './scopes.js';
import type { AuthService } from './service.js';

/**
 * The OAuth2 token endpoint and its relatives (introspect, validate, revoke), shaped as Globus
 * Auth answers them.
 *
 * Why hand-written and not oidc-provider: one Globus token request that spans several resource
 * servers (e.g. `openid urn:…:transfer.api.globus.org:all urn:…:groups.api.globus.org:all`)
 * is answered with one access (and refresh) token per resource server — the first at the top
 * level, the rest in `other_tokens`, each naming its `resource_server` and `scope` — and
 * globus-cli and the Globus SDKs read exactly that. oidc-provider issues one access token per
 * token request: with resource indicators it resolves a single resource per access token and
 * refuses more ("only a single resource indicator value must be requested/resolved during
 * Access Token Request"). Getting Globus's answer out of it would mean minting the other tokens
 * beside it and rewriting its responses, so the certified code would no longer decide what is
 * issued. Globus's other shapes are not oidc-provider's either: the dependent-token grant
 * answers with a JSON array; introspection carries `identity_set` (+ `identity_set_detail`);
 * `/v2/oauth2/token/validate` exists; errors carry a JSON:API `errors` list beside
 * `error`/`error_description`. And it is a Koa
 * application with its own storage adapter and interaction sessions: a second web stack beside
 * Fastify and a second store beside control's SQLite.
 *
 * The cryptography stays with certified libraries: id_tokens are signed and the JWKS served
 * with jose (keys.ts), upstream OpenID Connect logins run through openid-client (upstream.ts),
 * passwords are argon2id (passwords.ts). What is here is grant bookkeeping and response
 * shapes; its checks are tested in test/unit/control/auth and test/integration/auth-*.test.ts.
 */
export const DEPENDENT_TOKEN_GRANT = 'urn:globus:auth:grant_type:dependent_token';

export type Form = Record<string, string | undefined>;

export interface TokenDoc {
  access_token: string;
  expires_in: number;
  resource_server: string;
  token_type: 'Bearer';
  scope: string;
  refresh_token?: string;
  state?: string;
  id_token?: string;
  other_tokens?: TokenDoc[];
}

export interface AuthenticatedClient { client: ClientRecord; confidential: boolean }

const invalidClient = (detail = 'Client authentication failed'): AuthError => new AuthError(401, 'invalid_client', detail);
const invalidGrant = (detail: string): AuthError => new AuthError(400, 'invalid_grant', detail);
const invalidScope = (detail: string): AuthError => new AuthError(400, 'invalid_scope', detail);

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** RFC 7636 §4.1: 43–128 characters of [A-Za-z0-9-._~]. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export class OAuthServer {
  constructor(private readonly auth: AuthService) {}

  /**
   * Who is calling the token endpoint: HTTP Basic `client_id:client_secret`, or form
   * `client_id` (+ `client_secret`). A public client names itself with `client_id` only.
   */
  authenticateClient(authorization: string | undefined, form: Form): AuthenticatedClient {
    let id: string | undefined;
    let secret: string | undefined;
    if (authorization !== undefined && /^basic\s/i.test(authorization)) {
      const decoded = Buffer.from(authorization.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw invalidClient('Malformed Basic credentials');
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    } else {
      id = form['client_id'];
      secret = form['client_secret'];
    }
    if (!id) throw invalidClient('No client credentials: use HTTP Basic or client_id');
    const client = this.auth.clients.byId(id);
    if (!client || client.disabled) throw invalidClient();
    if (client.public) {
      if (secret) throw invalidClient('A public client has no secret');
      return { client, confidential: false };
    }
    if (!secret || !this.auth.clients.checkSecret(id, secret)) throw invalidClient();
    return { client, confidential: true };
  }

  async token(authorization: string | undefined, form: Form): Promise<TokenDoc | TokenDoc[]> {
    const grant = form['grant_type'];
    const caller = this.authenticateClient(authorization, form);
    switch (grant) {
      case 'client_credentials': return this.clientCredentials(caller, form);
      case 'authorization_code': return this.authorizationCode(caller, form);
      case 'refresh_token': return this.refresh(caller, form);
      case DEPENDENT_TOKEN_GRANT: return this.dependent(caller, form);
      default: throw new AuthError(400, 'unsupported_grant_type', `grant_type '${grant ?? ''}' is not supported`);
    }
  }

  /** Scopes must all be known; returns them grouped by resource server. */
  private checkScopes(scopes: string[]): Array<{ resourceServer: string; scopes: string[] }> {
    const unknown = scopes.filter((s) => this.auth.resourceServerOf(s) === undefined);
    if (unknown.length) throw invalidScope(`Unknown scope(s): ${unknown.join(' ')}`);
    return byResourceServer(scopes, (s) => this.auth.resourceServerOf(s)!);
  }

  /** The client acts as its own identity, `<client id>@clients.auth.globus.org`. */
  clientIdentity(client: ClientRecord): Identity {
    const existing = this.auth.accounts.identity(client.id);
    if (existing) return existing;
    return this.auth.accounts.create({
      id: client.id, username: `${client.id}@clients.auth.globus.org`, providerId: this.auth.accounts.clientsProvider().id,
      subject: client.id, name: client.name,
    });
  }

  private async clientCredentials(caller: AuthenticatedClient, form: Form): Promise<TokenDoc> {
    if (!caller.confidential) throw new AuthError(400, 'unauthorized_client', 'Only confidential clients may use client_credentials');
    const scopes = parseScopes(form['scope']);
    if (scopes.length === 0) throw invalidScope('client_credentials needs a scope');
    if (scopes.some((s) => this.auth.resourceServerOf(s) === caller.client.id)) throw invalidScope('A client cannot request its own scope');
    const groups = this.checkScopes(scopes);
    const identity = this.clientIdentity(caller.client);
    const familyId = newId();
    return this.respond({ client: caller.client, identity, groups, familyId, offline: false, nonce: null, authTime: Date.now() });
  }

  private async authorizationCode(caller: AuthenticatedClient, form: Form): Promise<TokenDoc> {
    const code = form['code'];
    if (!code) throw new AuthError(400, 'invalid_request', 'code is required');
    const rec = this.auth.grants.consumeCode(code);
    if (!rec) throw invalidGrant('Invalid authorization code');
    if (rec.usedAt !== null) {
      // A replayed code: revoke what its first use issued (RFC 6749 §4.1.2).
      this.auth.grants.revokeFamily(rec.familyId);
      throw invalidGrant('Authorization code was already used');
    }
    if (rec.expiresAt <= Date.now()) throw invalidGrant('Authorization code has expired');
    if (rec.clientId !== caller.client.id) throw invalidGrant('Authorization code was issued to another client');
    if (form['redirect_uri'] !== rec.redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
    if (rec.codeChallenge !== null) {
      const verifier = form['code_verifier'];
      if (!verifier || !VERIFIER.test(verifier) || !sameString(s256(verifier), rec.codeChallenge)) throw invalidGrant('PKCE code_verifier does not match');
    } else if (!caller.confidential) {
      throw invalidGrant('Public clients must use PKCE');
    }
    const identity = this.activeIdentity(rec.identityId);
    const groups = this.checkScopes(rec.scopes);
    return this.respond({ client: caller.client, identity, groups, familyId: rec.familyId, offline: rec.offline, nonce: rec.nonce, authTime: rec.authTime });
  }

  private async refresh(caller: AuthenticatedClient, form: Form): Promise<TokenDoc> {
    const token = form['refresh_token'];
    if (!token) throw new AuthError(400, 'invalid_request', 'refresh_token is required');
    const rec = this.auth.grants.lookup(token);
    if (!rec || rec.kind !== 'refresh') throw invalidGrant('Invalid refresh token');
    if (rec.clientId !== caller.client.id) throw invalidGrant('Refresh token was issued to another client');
    if (rec.revokedAt !== null) throw invalidGrant('Refresh token was revoked');
    if (rec.usedAt !== null) this.reused(rec.familyId);
    if (rec.expiresAt !== null && rec.expiresAt <= Date.now()) throw invalidGrant('Refresh token has expired');
    let scopes = rec.scopes;
    const asked = parseScopes(form['scope']);
    if (asked.length) {
      const extra = asked.filter((s) => !rec.scopes.includes(s));
      if (extra.length) throw invalidScope(`Scope(s) not granted to this refresh token: ${extra.join(' ')}`);
      scopes = asked;
    }
    const identity = this.activeIdentity(rec.identityId);
    // Rotate: the old token is spent; losing this race to a concurrent use is a reuse too.
    if (!this.auth.grants.markUsed(token)) this.reused(rec.familyId);
    return this.respond({
      client: caller.client, identity, groups: [{ resourceServer: rec.resourceServer, scopes }], familyId: rec.familyId, offline: true,
      nonce: null, authTime: Date.now(), refreshScopes: rec.scopes,
    });
  }

  /** Reuse of a rotated refresh token: someone else holds a copy; end the whole grant. */
  private reused(familyId: string): never {
    this.auth.grants.revokeFamily(familyId);
    throw invalidGrant('Refresh token was already used; every token of this grant is now revoked');
  }

  /**
   * Dependent tokens: a resource-server client trades a token issued for it (audience = its
   * client id) for tokens to the services it depends on, acting for the same user. Globus
   * answers with a JSON array.
   */
  private async dependent(caller: AuthenticatedClient, form: Form): Promise<TokenDoc[]> {
    if (!caller.confidential || !caller.client.resourceServer) {
      throw new AuthError(400, 'unauthorized_client', 'Only resource-server clients may use the dependent token grant');
    }
    const incoming = form['token'];
    if (!incoming) throw new AuthError(400, 'invalid_request', 'token is required');
    const rec = this.auth.grants.lookup(incoming);
    const now = Date.now();
    if (!rec || rec.kind !== 'access' || rec.revokedAt !== null || (rec.expiresAt !== null && rec.expiresAt <= now) || rec.resourceServer !== caller.client.id) {
      throw invalidGrant('The token is not an active token issued for this client');
    }
    const asked = parseScopes(form['scope']);
    const scopes = asked.length ? asked : caller.client.dependentScopes;
    const extra = scopes.filter((s) => !caller.client.dependentScopes.includes(s));
    if (extra.length) throw invalidScope(`Not a dependent scope of this client: ${extra.join(' ')}`);
    const identity = this.activeIdentity(rec.identityId);
    const offline = form['access_type'] === 'offline';
    const docs: TokenDoc[] = [];
    for (const g of this.checkScopes(scopes)) {
      docs.push(this.issueFor({ clientId: caller.client.id, identity, resourceServer: g.resourceServer, scopes: g.scopes, familyId: rec.familyId, offline }));
    }
    return docs;
  }

  private activeIdentity(identityId: string): Identity {
    const identity = this.auth.accounts.identity(identityId);
    if (!identity || identity.status !== 'used') throw invalidGrant('The identity of this grant is disabled');
    return identity;
  }

  private issueFor(input: { clientId: string; identity: Identity; resourceServer: string; scopes: string[]; familyId: string; offline: boolean; refreshScopes?: string[] }): TokenDoc {
    const t = this.auth.tuning;
    const base = { clientId: input.clientId, identityId: input.identity.id, resourceServer: input.resourceServer, familyId: input.familyId };
    const doc: TokenDoc = {
      access_token: this.auth.grants.issue({ ...base, kind: 'access', scopes: input.scopes, ttlMs: t.accessTokenTtlSeconds * 1000 }),
      expires_in: t.accessTokenTtlSeconds, resource_server: input.resourceServer, token_type: 'Bearer', scope: input.scopes.join(' '),
    };
    if (input.offline) {
      doc.refresh_token = this.auth.grants.issue({
        ...base, kind: 'refresh', scopes: input.refreshScopes ?? input.scopes, ttlMs: t.refreshTokenTtlSeconds === null ? null : t.refreshTokenTtlSeconds * 1000,
      });
    }
    return doc;
  }

  /** One token per resource server: the first at the top level, the rest in `other_tokens`. */
  private async respond(input: {
    client: ClientRecord; identity: Identity; groups: Array<{ resourceServer: string; scopes: string[] }>; familyId: string;
    offline: boolean; nonce: string | null; authTime: number; refreshScopes?: string[];
  }): Promise<TokenDoc> {
    const docs = input.groups.map((g) => this.issueFor({
      clientId: input.client.id, identity: input.identity, resourceServer: g.resourceServer, scopes: g.scopes, familyId: input.familyId,
      offline: input.offline, ...(input.refreshScopes ? { refreshScopes: input.refreshScopes } : {}),
    }));
    const [first, ...rest] = docs;
    if (!first) throw invalidScope('No scope requested');
    const top: TokenDoc = { ...first, other_tokens: rest };
    const authScopes = input.groups.find((g) => g.resourceServer === AUTH_RS)?.scopes ?? [];
    if (authScopes.includes(SCOPES.openid)) top.id_token = await this.idToken(input.client.id, input.identity, authScopes, input.nonce, input.authTime);
    return top;
  }

  async idToken(clientId: string, identity: Identity, scopes: readonly string[], nonce: string | null, authTime: number): Promise<string> {
    const claims = this.userClaims(identity, scopes);
    claims['last_authentication'] = Math.floor(authTime / 1000);
    if (nonce) claims['nonce'] = nonce;
    return this.auth.keys.sign(claims, { issuer: this.auth.issuer, audience: clientId, subject: identity.id, ttlSeconds: this.auth.tuning.idTokenTtlSeconds });
  }

  /** userinfo / id_token claims: profile and email only when those scopes were granted. */
  userClaims(identity: Identity, scopes: readonly string[]): Record<string, unknown> {
    const accounts = this.auth.accounts;
    const provider = accounts.provider(identity.providerId);
    const claims: Record<string, unknown> = { sub: identity.id };
    const profile = scopes.includes(SCOPES.profile);
    const email = scopes.includes(SCOPES.email);
    if (profile) {
      Object.assign(claims, {
        preferred_username: identity.username, name: identity.name, organization: identity.organization,
        identity_provider: identity.providerId, identity_provider_display_name: provider?.displayName ?? null,
      });
    }
    if (email) claims['email'] = identity.email;
    claims['identity_set'] = accounts.identitySet(identity.id).map((i) => {
      const e = identitySetEntry(i, accounts);
      if (!profile) { delete e['name']; delete e['organization']; delete e['username']; }
      if (!email) delete e['email'];
      return e;
    });
    return claims;
  }

  /**
   * RFC 7662 introspection with Globus's fields. Only the token's own client, or the resource
   * server the token is for, may see it active; anyone else gets `{active: false}`.
   */
  introspect(caller: AuthenticatedClient, form: Form): Record<string, unknown> {
    if (!caller.confidential) throw unauthorized('Introspection needs client credentials');
    const token = form['token'];
    if (!token) throw new AuthError(400, 'invalid_request', 'token is required');
    const rec = this.auth.grants.lookup(token);
    const now = Date.now();
    if (!rec || rec.kind !== 'access' || rec.revokedAt !== null || (rec.expiresAt !== null && rec.expiresAt <= now)) return { active: false };
    if (caller.client.id !== rec.clientId && caller.client.id !== rec.resourceServer) return { active: false };
    const identity = this.auth.accounts.identity(rec.identityId);
    if (!identity || identity.status !== 'used') return { active: false };
    const include = (form['include'] ?? '').split(',').map((s) => s.trim());
    const set = this.auth.accounts.identitySet(identity.id);
    const doc: Record<string, unknown> = {
      active: true, token_type: 'Bearer', scope: rec.scopes.join(' '), client_id: rec.clientId, sub: identity.id, username: identity.username,
      name: identity.name, email: identity.email, exp: rec.expiresAt === null ? null : Math.floor(rec.expiresAt / 1000),
      iat: Math.floor(rec.createdAt / 1000), nbf: Math.floor(rec.createdAt / 1000), aud: [rec.resourceServer, rec.clientId], iss: this.auth.issuer,
      identity_set: set.map((i) => i.id),
    };
    if (include.includes('identity_set_detail')) doc['identity_set_detail'] = set.map((i) => identitySetEntry(i, this.auth.accounts));
    return doc;
  }

  /** Globus's deprecated validate: is this token active and issued to `client_id`? */
  validate(authorization: string | undefined, form: Form): { active: boolean } {
    const caller = this.authenticateClient(authorization, form);
    const token = form['token'];
    if (!token) throw new AuthError(400, 'invalid_request', 'token is required');
    const rec = this.auth.grants.lookup(token);
    const now = Date.now();
    const identity = rec && this.auth.accounts.identity(rec.identityId);
    const active = !!rec && rec.clientId === caller.client.id && rec.revokedAt === null && (rec.expiresAt === null || rec.expiresAt > now)
      && (rec.kind === 'access' || rec.usedAt === null) && identity?.status === 'used';
    return { active };
  }

  /** RFC 7009: revoking a refresh token ends its whole grant; unknown tokens are not an error. */
  revoke(authorization: string | undefined, form: Form): { active: false } {
    const caller = this.authenticateClient(authorization, form);
    const token = form['token'];
    if (!token) throw new AuthError(400, 'invalid_request', 'token is required');
    const rec = this.auth.grants.lookup(token);
    if (rec && rec.clientId === caller.client.id) {
      if (rec.kind === 'refresh') this.auth.grants.revokeFamily(rec.familyId);
      else this.auth.grants.revoke(token);
    }
    return { active: false };
  }
}
