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

/** Characters of the token hash shown as a token's id (`ferry control token list`); never the token itself. */
export const TOKEN_ID_LENGTH = 16;
/** The shortest id prefix `ferry control token revoke` accepts. */
export const MIN_TOKEN_ID_PREFIX = 8;

/** A token as an administrator sees it: no secret, only an id (a prefix of its SHA-256 hash). */
export interface TokenInfo {
  id: string;
  identityId: string;
  username: string | null;
  scopes: string[];
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  status: 'active' | 'expired' | 'revoked';
}

/** A token's id: the first TOKEN_ID_LENGTH hex digits of its hash. */
export function tokenIdOf(token: string): string {
  return hashSecret(token).slice(0, TOKEN_ID_LENGTH);
}

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

  /** Tokens (newest first), optionally only one identity's; for administrators, without secrets. */
  list(filter: { identityId?: string } = {}, now = Date.now()): TokenInfo[] {
    const rows = this.db.prepare(`SELECT t.token_hash, t.identity_id, i.username, t.scopes, t.created_at, t.expires_at, t.revoked_at
        FROM tokens t LEFT JOIN identities i ON i.id = t.identity_id
        ${filter.identityId === undefined ? '' : 'WHERE t.identity_id = ?'} ORDER BY t.created_at DESC, t.token_hash`)
      .all(...(filter.identityId === undefined ? [] : [filter.identityId])) as Array<Row & { token_hash: string; username: string | null }>;
    return rows.map((r) => ({
      id: r.token_hash.slice(0, TOKEN_ID_LENGTH), identityId: r.identity_id, username: r.username, scopes: r.scopes.split(' ').filter(Boolean),
      createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at,
      status: r.revoked_at !== null ? 'revoked' : r.expires_at !== null && r.expires_at <= now ? 'expired' : 'active',
    }));
  }

  /** Hashes of the tokens whose hash starts with `prefix` (lowercase hex). */
  hashesWithPrefix(prefix: string): string[] {
    if (!/^[0-9a-f]+$/.test(prefix)) return [];
    return (this.db.prepare('SELECT token_hash FROM tokens WHERE substr(token_hash, 1, ?) = ?').all(prefix.length, prefix) as Array<{ token_hash: string }>)
      .map((r) => r.token_hash);
  }

  /** Revoke by stored hash; false when it is unknown or already revoked. Takes effect on the next request: lookups are not cached. */
  revokeHash(tokenHash: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(now, tokenHash).changes > 0;
  }
}
