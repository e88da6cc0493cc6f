import { hashSecret, newSecret } from '../../common/ids.js';
import { cachedStatement, type Db } from './db.js';

export const TRANSFER_SCOPE = 'urn:globus:auth:scope:transfer.api.globus.org:all';

export interface TokenRecord {
  identityId: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
}

export type TokenLookup =
  | { status: 'active'; token: TokenRecord }
  | { status: 'expired' | 'revoked' | 'unknown' };

interface Row { identity_id: string; scopes: string; created_at: number; expires_at: number | null; revoked_at: number | null }

/** Bearer tokens: random, shown once, stored only as SHA-256 hashes. */
export class TokenRepo {
  constructor(private readonly db: Db) {}

  issue(identityId: string, scopes: readonly string[], ttlSeconds: number | null, now = Date.now()): { token: string; record: TokenRecord } {
    const token = newSecret(32);
    const record: TokenRecord = { identityId, scopes: [...scopes], createdAt: now, expiresAt: ttlSeconds === null ? null : now + ttlSeconds * 1000 };
    this.db.prepare('INSERT INTO tokens (token_hash, identity_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(hashSecret(token), identityId, record.scopes.join(' '), record.createdAt, record.expiresAt);
    return { token, record };
  }

  lookup(token: string, now = Date.now()): TokenLookup {
    const row = cachedStatement(this.db, 'SELECT identity_id, scopes, created_at, expires_at, revoked_at FROM tokens WHERE token_hash = ?')
      .get(hashSecret(token)) as Row | undefined;
    if (!row) return { status: 'unknown' };
    if (row.revoked_at !== null) return { status: 'revoked' };
    if (row.expires_at !== null && row.expires_at <= now) return { status: 'expired' };
    return {
      status: 'active',
      token: { identityId: row.identity_id, scopes: row.scopes.split(' ').filter(Boolean), createdAt: row.created_at, expiresAt: row.expires_at },
    };
  }

  revoke(token: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(now, hashSecret(token)).changes > 0;
  }
}
