import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FerryError } from '../../common/errors.js';
import { ControlStore } from '../store/index.js';
import type { Identity, OidcProviderConfig, ProviderRecord } from './accounts.js';
import type { ClientRecord } from './clients.js';
import { identityDoc, clientDoc } from './documents.js';
import { checkNewPassword, hashPassword } from './passwords.js';
import { parseScopes } from './scopes.js';
import { AuthService } from './service.js';

/**
 * Offline administration of Ferry Auth on control's data directory (SQLite WAL: works while
 * control runs). Used by `ferry control identity|client|provider …`.
 */
async function withAuth<T>(dataDir: string, fn: (auth: AuthService) => Promise<T> | T): Promise<T> {
  const file = join(dataDir, 'control.db');
  if (!existsSync(file)) {
    throw new FerryError('Config.NotFound', `no control database in ${dataDir}; start control once with \`ferry control run --data-dir ${dataDir}\``);
  }
  const store = ControlStore.open(file);
  try {
    return await fn(new AuthService(store.db));
  } finally {
    store.close();
  }
}

function needIdentity(auth: AuthService, username: string): Identity {
  const i = auth.accounts.byUsername(username);
  if (!i) throw new FerryError('ClientError.NotFound', `no identity with username '${username}'`);
  return i;
}

async function checkedHash(password: string): Promise<string> {
  const problem = checkNewPassword(password);
  if (problem) throw new FerryError('ClientError.BadRequest', problem);
  return hashPassword(password);
}

export interface NewIdentity { username: string; email?: string; name?: string; organization?: string; password?: string }

/** Create a local-provider identity (with a password when given) and return its Globus document. */
export function adminCreateIdentity(dataDir: string, input: NewIdentity): Promise<Record<string, unknown>> {
  return withAuth(dataDir, async (auth) => {
    const hash = input.password === undefined ? undefined : await checkedHash(input.password);
    const i = auth.accounts.create({
      username: input.username, providerId: auth.accounts.localProvider().id, email: input.email ?? null, name: input.name ?? null, organization: input.organization ?? null,
    });
    if (hash) auth.accounts.setPassword(i.id, hash);
    return identityDoc(i);
  });
}

/** Set or reset a local identity's password; re-enables a disabled identity. */
export function adminSetPassword(dataDir: string, username: string, password: string): Promise<Record<string, unknown>> {
  return withAuth(dataDir, async (auth) => {
    const i = needIdentity(auth, username);
    if (i.providerId !== auth.accounts.localProvider().id) throw new FerryError('ClientError.BadRequest', `'${username}' comes from an upstream provider; its password lives there`);
    auth.accounts.setPassword(i.id, await checkedHash(password));
    auth.accounts.setStatus(i.id, 'used');
    return identityDoc(auth.accounts.identity(i.id)!);
  });
}

/** Disable an identity: it cannot log in, and its tokens (OAuth2 and admin-minted) stop working. */
export function adminDisableIdentity(dataDir: string, username: string): Promise<{ identity: Record<string, unknown>; revoked: number }> {
  return withAuth(dataDir, (auth) => {
    const i = needIdentity(auth, username);
    auth.accounts.setStatus(i.id, 'closed');
    const revoked = auth.grants.revokeForIdentity(i.id);
    return { identity: identityDoc(auth.accounts.identity(i.id)!), revoked };
  });
}

/** Link `other` (and its account) into `primary`'s account. */
export function adminLinkIdentities(dataDir: string, primary: string, other: string): Promise<Array<Record<string, unknown>>> {
  return withAuth(dataDir, (auth) => {
    const a = needIdentity(auth, primary);
    const b = needIdentity(auth, other);
    auth.accounts.link(a.id, b.id);
    return auth.accounts.identitySet(a.id).map(identityDoc);
  });
}

export interface NewClient { name: string; public: boolean; id?: string; redirectUris: string[]; resourceServer: boolean; dependentScopes: string }

export function adminCreateClient(dataDir: string, input: NewClient): Promise<{ client: Record<string, unknown>; secret: string | undefined; record: ClientRecord }> {
  return withAuth(dataDir, (auth) => {
    const deps = parseScopes(input.dependentScopes);
    const unknown = deps.filter((s) => auth.resourceServerOf(s) === undefined);
    if (unknown.length) throw new FerryError('ClientError.BadRequest', `unknown dependent scope(s): ${unknown.join(' ')}`);
    const { client, secret } = auth.clients.create({
      name: input.name, public: input.public, redirectUris: input.redirectUris, resourceServer: input.resourceServer, dependentScopes: deps,
      ...(input.id !== undefined ? { id: input.id } : {}),
    });
    return { client: clientDoc(client), secret, record: client };
  });
}

export function adminAddOidcProvider(dataDir: string, input: { domain: string; displayName: string; oidc: OidcProviderConfig }): Promise<ProviderRecord> {
  return withAuth(dataDir, (auth) => {
    try {
      new URL(input.oidc.issuer);
    } catch {
      throw new FerryError('ClientError.BadRequest', `issuer '${input.oidc.issuer}' is not a URL`);
    }
    return auth.accounts.addOidcProvider(input);
  });
}
