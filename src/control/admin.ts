import { existsSync } from 'node:fs';
import { FerryError } from '../common/errors.js';
import { hashSecret } from '../common/ids.js';
import { controlPaths } from './service.js';
import { ControlStore, type IdentityRecord } from './store/index.js';
import { PERSONAL_TOKEN_SCOPES, TRANSFER_RS } from './auth/scopes.js';
import { MIN_TOKEN_ID_PREFIX, TOKEN_ID_LENGTH, type TokenInfo } from './store/tokens.js';

/**
 * Offline administration on control's data directory (works while control runs: SQLite WAL).
 * Used by `ferry control identity create` and `ferry control token issue|list|revoke`.
 */
function openExisting(dataDir: string): ControlStore {
  const paths = controlPaths(dataDir);
  if (!existsSync(paths.database)) {
    throw new FerryError('Config.NotFound', `no control database in ${dataDir}; start control once with \`ferry control run --data-dir ${dataDir}\``);
  }
  return ControlStore.open(paths.database);
}

export function identityDocument(rec: IdentityRecord): Record<string, unknown> {
  return {
    id: rec.id, username: rec.username, status: 'used', identity_provider: 'ferry', name: rec.name,
    email: rec.email, organization: rec.organization, identity_type: 'login',
  };
}

export function createIdentity(dataDir: string, input: { username: string; email?: string; name?: string; organization?: string }): IdentityRecord {
  const store = openExisting(dataDir);
  try {
    return store.identities.create(input);
  } finally {
    store.close();
  }
}

export const DEFAULT_TOKEN_TTL_SECONDS = 48 * 3600;

export function issueToken(dataDir: string, username: string, ttlSeconds: number | null, resourceServer: string = TRANSFER_RS): { token: string; identity: IdentityRecord; expiresAt: number | null; scopes: readonly string[] } {
  const scopes = PERSONAL_TOKEN_SCOPES[resourceServer];
  if (!scopes) throw new FerryError('ClientError.BadRequest', `--resource-server must be one of ${Object.keys(PERSONAL_TOKEN_SCOPES).join(', ')}`);
  const store = openExisting(dataDir);
  try {
    const identity = store.identities.byUsername(username);
    if (!identity) throw new FerryError('ClientError.NotFound', `no identity with username '${username}'; create it with \`ferry control identity create --username ${username}\``);
    const { token, record } = store.tokens.issue(identity.id, scopes, ttlSeconds);
    return { token, identity, expiresAt: record.expiresAt, scopes };
  } finally {
    store.close();
  }
}

/** Tokens without their secrets (id = hash prefix), newest first; only `username`'s when given. */
export function listTokens(dataDir: string, opts: { username?: string } = {}): TokenInfo[] {
  const store = openExisting(dataDir);
  try {
    if (opts.username === undefined) return store.tokens.list();
    const identity = store.identities.byUsername(opts.username);
    if (!identity) throw new FerryError('ClientError.NotFound', `no identity with username '${opts.username}'`);
    return store.tokens.list({ identityId: identity.id });
  } finally {
    store.close();
  }
}

export interface RevokeResult {
  /** The token's id (hash prefix), as `token list` shows it. */
  id: string;
  /** false: it was revoked before. */
  revoked: boolean;
}

/**
 * Revoke one token, named by the token itself or by its id (at least MIN_TOKEN_ID_PREFIX
 * leading hex digits of its hash, as `token list` shows). A running control refuses it from
 * its next request on: every request looks the token up in the database, nothing caches it.
 */
export function revokeToken(dataDir: string, which: { token: string } | { id: string }): RevokeResult {
  const store = openExisting(dataDir);
  try {
    let hash: string;
    if ('token' in which) {
      hash = hashSecret(which.token);
      if (store.tokens.hashesWithPrefix(hash).length === 0) throw new FerryError('ClientError.NotFound', 'no such token (it was never issued by this control)');
    } else {
      const prefix = which.id.toLowerCase();
      if (!new RegExp(`^[0-9a-f]{${MIN_TOKEN_ID_PREFIX},64}$`).test(prefix)) {
        throw new FerryError('ClientError.BadRequest', `a token id is ${MIN_TOKEN_ID_PREFIX} to 64 hex digits, as \`ferry control token list\` shows it (to revoke by the token itself, use --token)`);
      }
      const found = store.tokens.hashesWithPrefix(prefix);
      if (found.length === 0) throw new FerryError('ClientError.NotFound', `no token has the id ${prefix}`);
      if (found.length > 1) throw new FerryError('ClientError.Conflict', `${found.length} tokens have ids starting with ${prefix}; give more digits`);
      hash = found[0]!;
    }
    return { id: hash.slice(0, TOKEN_ID_LENGTH), revoked: store.tokens.revokeHash(hash) };
  } finally {
    store.close();
  }
}
