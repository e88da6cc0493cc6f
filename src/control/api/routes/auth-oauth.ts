import type { FastifyRequest } from 'fastify';
import type { Identity } from '../../auth/accounts.js';
import { identityDoc } from '../../auth/documents.js';
import { badRequest, notFound } from '../../auth/errors.js';
import type { OAuthServer } from '../../auth/oauth.js';
import { AUTH_RS, SCOPES } from '../../auth/scopes.js';
import type { AuthService } from '../../auth/service.js';
import { isUuid } from '../../../common/ids.js';
import type { Api } from '../context.js';
import { bearer, formOf } from './auth-common.js';

type Q = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(',') : v);

/**
 * Globus Auth's OAuth2 endpoints (/v2/oauth2/token and friends), OIDC discovery and JWKS,
 * userinfo and identity lookups.
 */
export function registerAuthOAuthRoutes(app: Api, auth: AuthService, oauth: OAuthServer): void {
  app.post('/v2/oauth2/token', async (req, reply) => {
    const doc = await oauth.token(req.headers.authorization, formOf(req.body));
    void reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    return doc;
  });

  app.post('/v2/oauth2/token/introspect', async (req) => {
    const form = formOf(req.body);
    return oauth.introspect(oauth.authenticateClient(req.headers.authorization, form), form);
  });

  app.post('/v2/oauth2/token/validate', async (req) => oauth.validate(req.headers.authorization, formOf(req.body)));
  app.post('/v2/oauth2/token/revoke', async (req) => oauth.revoke(req.headers.authorization, formOf(req.body)));

  const userinfo = async (req: FastifyRequest) => {
    const caller = bearer(req, auth, AUTH_RS, [SCOPES.openid]);
    return oauth.userClaims(caller.identity, caller.scopes);
  };
  app.get('/v2/oauth2/userinfo', userinfo);
  app.post('/v2/oauth2/userinfo', userinfo);

  const identityScopes = [SCOPES.viewIdentities, SCOPES.openid];
  app.get('/v2/api/identities', async (req) => {
    bearer(req, auth, AUTH_RS, identityScopes);
    const q = req.query as Q;
    const ids = (first(q['ids']) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const usernames = (first(q['usernames']) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (ids.length && usernames.length) throw badRequest('Use either ids or usernames, not both');
    if (ids.length + usernames.length > 100) throw badRequest('At most 100 identities per request');
    const found: Identity[] = [];
    for (const id of ids) {
      const i = isUuid(id) ? auth.accounts.identity(id.toLowerCase()) : undefined;
      if (i) found.push(i);
    }
    for (const u of usernames) {
      const i = auth.accounts.byUsername(u);
      if (i) found.push(i);
    }
    return { identities: found.map(identityDoc) };
  });

  app.get<{ Params: { id: string } }>('/v2/api/identities/:id', async (req) => {
    bearer(req, auth, AUTH_RS, identityScopes);
    const i = isUuid(req.params.id) ? auth.accounts.identity(req.params.id.toLowerCase()) : undefined;
    if (!i) throw notFound(`No identity with id '${req.params.id}'`);
    return { identity: identityDoc(i) };
  });

  app.get('/.well-known/openid-configuration', async () => {
    const iss = auth.issuer;
    return {
      issuer: iss,
      authorization_endpoint: `${iss}/v2/oauth2/authorize`,
      token_endpoint: `${iss}/v2/oauth2/token`,
      userinfo_endpoint: `${iss}/v2/oauth2/userinfo`,
      revocation_endpoint: `${iss}/v2/oauth2/token/revoke`,
      introspection_endpoint: `${iss}/v2/oauth2/token/introspect`,
      jwks_uri: `${iss}/jwk.json`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', 'urn:globus:auth:grant_type:dependent_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: Object.values(SCOPES),
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'email', 'preferred_username', 'organization', 'identity_provider', 'identity_set', 'last_authentication'],
    };
  });

  app.get('/jwk.json', async () => auth.keys.jwks());
}
