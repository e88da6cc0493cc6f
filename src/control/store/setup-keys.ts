import { FerryError } from '../../common/errors.js';
import { hashSecret, newSecret } from '../../common/ids.js';
import type { Db } from './db.js';

interface Row { endpoint_id: string; expires_at: number; used_at: number | null }

/** One-time setup keys: only the secret's hash is stored; consuming one is atomic. */
export class SetupKeyRepo {
  constructor(private readonly db: Db) {}

  create(endpointId: string, ttlSeconds: number, now = Date.now()): { secret: string; expiresAt: number } {
    const secret = newSecret(24);
    const expiresAt = now + ttlSeconds * 1000;
    this.db.prepare('INSERT INTO setup_keys (key_hash, endpoint_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(hashSecret(secret), endpointId, now, expiresAt);
    return { secret, expiresAt };
  }

  /** Marks the key used and returns its endpoint id; refuses unknown, used and expired keys. */
  consume(secret: string, now = Date.now()): string {
    const hash = hashSecret(secret);
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT endpoint_id, expires_at, used_at FROM setup_keys WHERE key_hash = ?').get(hash) as Row | undefined;
      if (!row) throw new FerryError('SetupKey.Invalid', 'unknown setup key');
      if (row.used_at !== null) throw new FerryError('SetupKey.Used', 'this setup key was already used; create a new endpoint setup key');
      if (row.expires_at <= now) throw new FerryError('SetupKey.Expired', 'this setup key has expired; create a new one');
      this.db.prepare('UPDATE setup_keys SET used_at = ? WHERE key_hash = ?').run(now, hash);
      return row.endpoint_id;
    }).immediate();
  }

  /** Keys of a deleted endpoint must not register agents any more. */
  invalidateForEndpoint(endpointId: string, now = Date.now()): void {
    this.db.prepare('UPDATE setup_keys SET used_at = ? WHERE endpoint_id = ? AND used_at IS NULL').run(now, endpointId);
  }
}
