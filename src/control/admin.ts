import { existsSync } from 'node:fs';
import { FerryError } from '../common/errors.js';
import { controlPaths } from './service.js';
import { ControlStore, TRANSFER_SCOPE, type IdentityRecord } from './store/index.js';

/**
 * Offline administration on control's data directory (works while control runs: SQLite WAL).
 * Used by `ferry control identity create` and `ferry control token issue`.
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

export function issueToken(dataDir: string, username: string, ttlSeconds: number | null): { token: string; identity: IdentityRecord; expiresAt: number | null } {
  const store = openExisting(dataDir);
  try {
    const identity = store.identities.byUsername(username);
    if (!identity) throw new FerryError('ClientError.NotFound', `no identity with username '${username}'; create it with \`ferry control identity create --username ${username}\``);
    const { token, record } = store.tokens.issue(identity.id, [TRANSFER_SCOPE], ttlSeconds);
    return { token, identity, expiresAt: record.expiresAt };
  } finally {
    store.close();
  }
}
