import type { AccountRepo, Identity } from './accounts.js';
import type { ClientRecord } from './clients.js';

/** Globus Auth document shapes (globus-api.md §4; recorded responses win over SDK types). */
export function identityDoc(i: Identity): Record<string, unknown> {
  return {
    id: i.id, username: i.username, status: i.status === 'closed' ? 'closed' : 'used', identity_provider: i.providerId,
    name: i.name, email: i.email, organization: i.organization, identity_type: 'login',
  };
}

/** An identity as it appears in `identity_set` of userinfo and id_tokens. */
export function identitySetEntry(i: Identity, accounts: AccountRepo): Record<string, unknown> {
  const p = accounts.provider(i.providerId);
  return {
    sub: i.id, username: i.username, name: i.name, email: i.email, organization: i.organization,
    identity_provider: i.providerId, identity_provider_display_name: p?.displayName ?? null, identity_type: 'login',
  };
}

export function clientDoc(c: ClientRecord): Record<string, unknown> {
  return {
    id: c.id, name: c.name, public_client: c.public, client_type: c.public ? 'public_installed_client' : 'confidential_client',
    redirect_uris: c.redirectUris,
    grant_types: c.public ? ['authorization_code', 'refresh_token'] : ['authorization_code', 'client_credentials', 'refresh_token', 'urn:globus:auth:grant_type:dependent_token'],
    scopes: c.resourceServer ? [`urn:globus:auth:scope:${c.id}:all`] : [], dependent_scopes: c.dependentScopes,
    visibility: 'private', parent_client: null, project: null, required_idp: null, preselect_idp: null, fqdns: [], links: { privacy_policy: null, terms_and_conditions: null },
  };
}
