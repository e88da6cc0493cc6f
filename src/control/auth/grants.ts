import { hashSecret, newId, newSecret } from '../../common/ids.js';
import { cachedStatement, type Db } from '../store/db.js';

/**
 * Authorization codes, access and refresh tokens, consents and browser sessions. Every secret
 * is random and stored only as its SHA-256 hash. Tokens of one grant share a `family_id`:
 * revoking the family (refresh-token reuse, a replayed code, logout) revokes them all.
 */
export interface CodeRecord {
  clientId: string;
  identityId: string;
  scopes: string[];
  redirectUri: string;
  codeChallenge: string | null;
  nonce: string | null;
  offline: boolean;
  authTime: number;
  expiresAt: number;
  usedAt: number | null;
  familyId: string;
}

export interface TokenRow {
  kind: 'access' | 'refresh';
  clientId: string;
  identityId: string;
  resourceServer: string;
  scopes: string[];
  familyId: string;
  createdAt: number;
  expiresAt: number | null;
  usedAt: number | null;
  revokedAt: number | null;
}

interface CodeDbRow {
  client_id: string; identity_id: string; scopes: string; redirect_uri: string; code_challenge: string | null; nonce: string | null;
  offline: number; auth_time: number; expires_at: number; used_at: number | null; family_id: string;
}
interface TokenDbRow {
  kind: 'access' | 'refresh'; client_id: string; identity_id: string; resource_server: string; scopes: string; family_id: string;
  created_at: number; expires_at: number | null; used_at: number | null; revoked_at: number | null;
}

const split = (s: string): string[] => s.split(' ').filter(Boolean);

export class GrantRepo {
  constructor(private readonly db: Db) {}

  // ---- authorization codes ----

  createCode(input: Omit<CodeRecord, 'usedAt' | 'familyId' | 'expiresAt'> & { ttlMs: number }, now = Date.now()): string {
    const code = newSecret(32);
    this.db.prepare(`INSERT INTO oauth_codes (code_hash, client_id, identity_id, scopes, redirect_uri, code_challenge, nonce, offline, auth_time, created_at, expires_at, family_id)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(hashSecret(code), input.clientId, input.identityId, input.scopes.join(' '), input.redirectUri, input.codeChallenge, input.nonce,
        input.offline ? 1 : 0, input.authTime, now, now + input.ttlMs, newId());
    return code;
  }

  /**
   * Look a code up and mark it used in one step. A code seen a second time comes back with
   * `usedAt` set, so the caller can refuse it and revoke what the first use issued.
   */
  consumeCode(code: string, now = Date.now()): CodeRecord | undefined {
    const hash = hashSecret(code);
    const tx = this.db.transaction((): CodeRecord | undefined => {
      const r = this.db.prepare('SELECT * FROM oauth_codes WHERE code_hash = ?').get(hash) as CodeDbRow | undefined;
      if (!r) return undefined;
      if (r.used_at === null) this.db.prepare('UPDATE oauth_codes SET used_at = ? WHERE code_hash = ?').run(now, hash);
      return {
        clientId: r.client_id, identityId: r.identity_id, scopes: split(r.scopes), redirectUri: r.redirect_uri, codeChallenge: r.code_challenge,
        nonce: r.nonce, offline: r.offline === 1, authTime: r.auth_time, expiresAt: r.expires_at, usedAt: r.used_at, familyId: r.family_id,
      };
    });
    return tx.immediate();
  }

  // ---- tokens ----

  issue(input: { kind: 'access' | 'refresh'; clientId: string; identityId: string; resourceServer: string; scopes: readonly string[]; familyId: string; ttlMs: number | null }, now = Date.now()): string {
    const token = newSecret(32);
    cachedStatement(this.db, `INSERT INTO oauth_tokens (token_hash, kind, client_id, identity_id, resource_server, scopes, family_id, created_at, expires_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(hashSecret(token), input.kind, input.clientId, input.identityId, input.resourceServer, input.scopes.join(' '), input.familyId, now,
        input.ttlMs === null ? null : now + input.ttlMs);
    return token;
  }

  lookup(token: string): TokenRow | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM oauth_tokens WHERE token_hash = ?').get(hashSecret(token)) as TokenDbRow | undefined;
    if (!r) return undefined;
    return {
      kind: r.kind, clientId: r.client_id, identityId: r.identity_id, resourceServer: r.resource_server, scopes: split(r.scopes),
      familyId: r.family_id, createdAt: r.created_at, expiresAt: r.expires_at, usedAt: r.used_at, revokedAt: r.revoked_at,
    };
  }

  /** Mark a refresh token as rotated; false when it was already used (a replay). */
  markUsed(token: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE oauth_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL').run(now, hashSecret(token)).changes > 0;
  }

  revoke(token: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(now, hashSecret(token)).changes > 0;
  }

  revokeFamily(familyId: string, now = Date.now()): number {
    return this.db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL').run(now, familyId).changes;
  }

  revokeForIdentity(identityId: string, now = Date.now()): number {
    return this.db.prepare('UPDATE oauth_tokens SET revoked_at = ? WHERE identity_id = ? AND revoked_at IS NULL').run(now, identityId).changes;
  }

  // ---- consents ----

  consented(identityId: string, clientId: string): string[] {
    const r = this.db.prepare('SELECT scopes FROM oauth_consents WHERE identity_id = ? AND client_id = ?').get(identityId, clientId) as { scopes: string } | undefined;
    return r ? split(r.scopes) : [];
  }

  addConsent(identityId: string, clientId: string, scopes: readonly string[], now = Date.now()): void {
    const all = [...new Set([...this.consented(identityId, clientId), ...scopes])];
    this.db.prepare(`INSERT INTO oauth_consents (identity_id, client_id, scopes, created_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT(identity_id, client_id) DO UPDATE SET scopes = excluded.scopes`).run(identityId, clientId, all.join(' '), now);
  }

  // ---- browser sessions (login pages) ----

  createSession(identityId: string, ttlMs: number, now = Date.now()): string {
    const sid = newSecret(32);
    this.db.prepare('INSERT INTO auth_sessions (session_hash, identity_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(hashSecret(sid), identityId, now, now + ttlMs);
    return sid;
  }

  session(sid: string, now = Date.now()): { identityId: string; createdAt: number } | undefined {
    const r = this.db.prepare('SELECT identity_id, created_at, expires_at, revoked_at FROM auth_sessions WHERE session_hash = ?')
      .get(hashSecret(sid)) as { identity_id: string; created_at: number; expires_at: number; revoked_at: number | null } | undefined;
    if (!r || r.revoked_at !== null || r.expires_at <= now) return undefined;
    return { identityId: r.identity_id, createdAt: r.created_at };
  }

  endSession(sid: string, now = Date.now()): void {
    this.db.prepare('UPDATE auth_sessions SET revoked_at = ? WHERE session_hash = ?').run(now, hashSecret(sid));
  }
}
