/**
 * Ferry Auth's scope catalog, in Globus Auth's strings (globus-api.md §4). Every scope belongs
 * to one resource server; a token is issued per resource server, so a grant that spans several
 * answers with one token plus `other_tokens` for the rest, as Globus does.
 */
export const AUTH_RS = 'auth.globus.org';
export const TRANSFER_RS = 'transfer.api.globus.org';
export const GROUPS_RS = 'groups.api.globus.org';

export const SCOPES = {
  transfer: 'urn:globus:auth:scope:transfer.api.globus.org:all',
  viewIdentities: 'urn:globus:auth:scope:auth.globus.org:view_identities',
  groupsView: 'urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships',
  groupsAll: 'urn:globus:auth:scope:groups.api.globus.org:all',
  openid: 'openid',
  profile: 'profile',
  email: 'email',
} as const;

interface ScopeInfo { resourceServer: string; description: string }

const BUILTIN: Record<string, ScopeInfo> = {
  [SCOPES.openid]: { resourceServer: AUTH_RS, description: 'Know who you are (your identity id)' },
  [SCOPES.profile]: { resourceServer: AUTH_RS, description: 'View your name, username and organization' },
  [SCOPES.email]: { resourceServer: AUTH_RS, description: 'View your e-mail address' },
  [SCOPES.viewIdentities]: { resourceServer: AUTH_RS, description: 'Look up identities by id or username' },
  [SCOPES.transfer]: { resourceServer: TRANSFER_RS, description: 'Manage your endpoints, files and transfers' },
  [SCOPES.groupsView]: { resourceServer: GROUPS_RS, description: 'View your groups and memberships' },
  [SCOPES.groupsAll]: { resourceServer: GROUPS_RS, description: 'Manage your groups and memberships' },
};

/**
 * The scopes of an admin-minted personal token for each built-in resource server
 * (`ferry control token issue --resource-server`): one token per resource server, as Globus
 * issues them, so a program following a Globus example can look identities up with one and
 * call Transfer with another.
 */
export const PERSONAL_TOKEN_SCOPES: Readonly<Record<string, readonly string[]>> = {
  [TRANSFER_RS]: [SCOPES.transfer],
  [AUTH_RS]: [SCOPES.openid, SCOPES.profile, SCOPES.email, SCOPES.viewIdentities],
  [GROUPS_RS]: [SCOPES.groupsAll],
};

/** The built-in resource server a scope belongs to, or undefined. */
export function builtinResourceServer(scope: string): string | undefined {
  return BUILTIN[scope]?.resourceServer;
}

/** A registered client may act as a resource server: its scope is `urn:globus:auth:scope:<client id>:all`. */
const CLIENT_SCOPE = /^urn:globus:auth:scope:([0-9a-f-]{36}):all$/;

export function clientScope(clientId: string): string {
  return `urn:globus:auth:scope:${clientId}:all`;
}

/** Resource server of a scope: built-in ones, or a client's own scope; undefined when unknown. */
export function scopeInfo(scope: string, isResourceServerClient: (id: string) => string | undefined): ScopeInfo | undefined {
  const builtin = BUILTIN[scope];
  if (builtin) return builtin;
  const m = CLIENT_SCOPE.exec(scope);
  if (m) {
    const name = isResourceServerClient(m[1]!);
    if (name !== undefined) return { resourceServer: m[1]!, description: `Let "${name}" act for you` };
  }
  return undefined;
}

/** Split a space-separated scope string, dropping duplicates and keeping order. */
export function parseScopes(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(/[\s+]+/).filter(Boolean))];
}

/**
 * Group scopes by resource server, in the order the servers first appear; auth.globus.org
 * comes first when present (its token carries the id_token, as in Globus's responses).
 */
export function byResourceServer(scopes: readonly string[], rsOf: (scope: string) => string): Array<{ resourceServer: string; scopes: string[] }> {
  const groups = new Map<string, string[]>();
  for (const s of scopes) {
    const rs = rsOf(s);
    const list = groups.get(rs) ?? [];
    list.push(s);
    groups.set(rs, list);
  }
  const out = [...groups].map(([resourceServer, list]) => ({ resourceServer, scopes: list }));
  out.sort((a, b) => (a.resourceServer === AUTH_RS ? -1 : b.resourceServer === AUTH_RS ? 1 : 0));
  return out;
}
