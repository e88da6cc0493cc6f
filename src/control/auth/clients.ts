import { timingSafeEqual } from 'node:crypto';
import { FerryError } from '../../common/errors.js';
import { hashSecret, isUuid, newId, newSecret } from '../../common/ids.js';
import { cachedStatement, type Db } from '../store/db.js';

/**
 * Registered OAuth2 clients. Confidential clients hold a secret (stored hashed) and may use
 * client credentials; public (native) clients have none and must use PKCE. A client that is a
 * resource server owns the scope `urn:globus:auth:scope:<id>:all` and may exchange tokens for
 * that scope into dependent tokens for `dependentScopes`.
 */
export interface ClientRecord {
  id: string;
  name: string;
  public: boolean;
  redirectUris: string[];
  resourceServer: boolean;
  dependentScopes: string[];
  ownerId: string | null;
  createdAt: number;
  disabled: boolean;
}

interface Row {
  id: string; name: string; public: number; secret_hash: string | null; redirect_uris: string; resource_server: number;
  dependent_scopes: string; owner_id: string | null; created_at: number; disabled_at: number | null;
}

const toRecord = (r: Row): ClientRecord => ({
  id: r.id, name: r.name, public: r.public === 1, redirectUris: JSON.parse(r.redirect_uris) as string[], resourceServer: r.resource_server === 1,
  dependentScopes: r.dependent_scopes.split(' ').filter(Boolean), ownerId: r.owner_id, createdAt: r.created_at, disabled: r.disabled_at !== null,
});

/** Redirect URIs must be absolute https URLs, or http on a loopback host (RFC 8252 §7.3), without fragments. */
export function checkRedirectUri(uri: string): void {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new FerryError('ClientError.BadRequest', `redirect URI '${uri}' is not an absolute URL`);
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost';
  if (u.hash !== '' || (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback))) {
    throw new FerryError('ClientError.BadRequest', `redirect URI '${uri}' must be https (or http on a loopback address) and have no fragment`);
  }
}

/**
 * The built-in native client of `ferry login`: public, PKCE, loopback redirect on any port
 * (RFC 8252 §7.3) or control's own code page for `--no-browser`.
 */
export const FERRY_CLI_CLIENT_ID = 'f3e1c2a4-0b7d-4c5e-9a61-2d8f0c7b3e15';
export const LOOPBACK_CALLBACK = 'http://127.0.0.1/callback';

/**
 * Is `uri` a redirect URI of `client`? Exact string match, except that a public client's
 * registered loopback URI without a port matches the same URI on any port (RFC 8252 §7.3:
 * native apps listen on an ephemeral port).
 */
export function redirectAllowed(client: ClientRecord, uri: string): boolean {
  if (client.redirectUris.includes(uri)) return true;
  if (!client.public) return false;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1' || u.port === '' || u.username || u.password) return false;
  const portless = `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
  return client.redirectUris.includes(portless) && uri === `http://127.0.0.1:${u.port}${u.pathname}${u.search}`;
}

export class ClientRepo {
  constructor(private readonly db: Db) {}

  /** Make the built-in `ferry login` client exist. */
  ensureCliClient(now = Date.now()): void {
    this.db.prepare(`INSERT OR IGNORE INTO oauth_clients (id, name, public, secret_hash, redirect_uris, resource_server, dependent_scopes, owner_id, created_at)
                     VALUES (?, 'Ferry command line', 1, NULL, ?, 0, '', NULL, ?)`).run(FERRY_CLI_CLIENT_ID, JSON.stringify([LOOPBACK_CALLBACK]), now);
  }

  create(input: { name: string; public: boolean; id?: string; redirectUris?: string[]; resourceServer?: boolean; dependentScopes?: string[]; ownerId?: string | null }, now = Date.now()): { client: ClientRecord; secret: string | undefined } {
    const redirectUris = input.redirectUris ?? [];
    redirectUris.forEach(checkRedirectUri);
    if (input.public && input.resourceServer) throw new FerryError('ClientError.BadRequest', 'a public client cannot be a resource server');
    // A fixed id lets existing apps keep theirs (globus-cli's native client id, for instance).
    const id = input.id?.toLowerCase() ?? newId();
    if (input.id !== undefined && !isUuid(input.id)) throw new FerryError('ClientError.BadRequest', `client id '${input.id}' is not a UUID`);
    if (this.byId(id)) throw new FerryError('ClientError.Conflict', `a client with id '${id}' already exists`);
    const secret = input.public ? undefined : newSecret(32);
    this.db.prepare(`INSERT INTO oauth_clients (id, name, public, secret_hash, redirect_uris, resource_server, dependent_scopes, owner_id, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, input.name, input.public ? 1 : 0, secret === undefined ? null : hashSecret(secret), JSON.stringify(redirectUris),
        input.resourceServer ? 1 : 0, (input.dependentScopes ?? []).join(' '), input.ownerId ?? null, now);
    return { client: this.byId(id)!, secret };
  }

  byId(id: string): ClientRecord | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM oauth_clients WHERE id = ?').get(id) as Row | undefined;
    return r && toRecord(r);
  }

  list(ownerId?: string): ClientRecord[] {
    const rows = ownerId === undefined
      ? this.db.prepare('SELECT * FROM oauth_clients ORDER BY created_at').all() as Row[]
      : this.db.prepare('SELECT * FROM oauth_clients WHERE owner_id = ? ORDER BY created_at').all(ownerId) as Row[];
    return rows.map(toRecord);
  }

  /** Constant-time check of a confidential client's secret. */
  checkSecret(id: string, secret: string): boolean {
    const r = cachedStatement(this.db, 'SELECT secret_hash FROM oauth_clients WHERE id = ? AND disabled_at IS NULL').get(id) as { secret_hash: string | null } | undefined;
    if (!r || r.secret_hash === null) return false;
    const a = Buffer.from(r.secret_hash, 'hex');
    const b = Buffer.from(hashSecret(secret), 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  update(id: string, patch: { name?: string; redirectUris?: string[] }): ClientRecord {
    if (patch.redirectUris) patch.redirectUris.forEach(checkRedirectUri);
    this.db.prepare('UPDATE oauth_clients SET name = COALESCE(?, name), redirect_uris = COALESCE(?, redirect_uris) WHERE id = ?')
      .run(patch.name ?? null, patch.redirectUris ? JSON.stringify(patch.redirectUris) : null, id);
    return this.byId(id)!;
  }

  disable(id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE oauth_clients SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL').run(now, id).changes > 0;
  }
}
