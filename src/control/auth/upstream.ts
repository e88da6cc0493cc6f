import * as oidc from 'openid-client';
import type { AccountRepo, Identity, ProviderRecord } from './accounts.js';

/**
 * Logging in through an upstream OpenID Connect provider, with openid-client doing the
 * protocol (discovery, PKCE, state and nonce checks, id_token validation). Ferry maps the
 * verified claims to an identity `<username claim>@<provider domain>`, created on first login.
 */
const configs = new Map<string, Promise<oidc.Configuration>>();

function configFor(p: ProviderRecord): Promise<oidc.Configuration> {
  const o = p.oidc!;
  const key = `${p.id}:${o.issuer}`;
  let c = configs.get(key);
  if (!c) {
    c = oidc.discovery(new URL(o.issuer), o.clientId, o.clientSecret);
    // A failed discovery is retried on the next login rather than cached.
    c.catch(() => configs.delete(key));
    configs.set(key, c);
  }
  return c;
}

export interface UpstreamStart { url: string; state: string; nonce: string; verifier: string }

export async function startUpstreamLogin(p: ProviderRecord, redirectUri: string): Promise<UpstreamStart> {
  const config = await configFor(p);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: p.oidc!.scope, state, nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  return { url: url.href, state, nonce, verifier };
}

/** Finish the upstream login: exchange the code (state, nonce and PKCE checked) and find or create the identity. */
export async function finishUpstreamLogin(
  p: ProviderRecord, accounts: AccountRepo, currentUrl: URL, checks: { state: string; nonce: string; verifier: string },
): Promise<Identity> {
  const config = await configFor(p);
  const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
    pkceCodeVerifier: checks.verifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  const map = p.oidc!.claims;
  const str = (name: string): string | null => (typeof claims[name] === 'string' ? claims[name] as string : null);
  const local = (str(map.username) ?? claims.sub).replace(/@.*$/, '');
  const profile = { name: str(map.name), email: str(map.email), organization: str(map.organization) };
  const existing = accounts.bySubject(p.id, claims.sub);
  if (existing) {
    accounts.updateProfile(existing.id, profile);
    return accounts.identity(existing.id)!;
  }
  return accounts.create({ username: `${local}@${p.domain}`, providerId: p.id, subject: claims.sub, ...profile });
}
