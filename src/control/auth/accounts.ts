import { FerryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import { cachedStatement, type Db } from '../store/db.js';

/**
 * Identities, the providers they come from, and the accounts they are linked into.
 * An account is named by its primary identity: every identity row carries `account_id`, the
 * primary's id (the primary points at itself). Tokens name the primary (`sub`), and
 * `identity_set` is every identity with the same account_id, as in Globus Auth.
 */
export type ProviderKind = 'local' | 'oidc' | 'clients';

export interface OidcProviderConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Claim names: which upstream claim fills each identity field. */
  claims: { username: string; name: string; email: string; organization: string };
  scope: string;
}

export interface ProviderRecord {
  id: string;
  kind: ProviderKind;
  /** The part after `@` in usernames from this provider. */
  domain: string;
  displayName: string;
  oidc: OidcProviderConfig | undefined;
  disabled: boolean;
}

export interface Identity {
  id: string;
  username: string;
  providerId: string;
  accountId: string;
  subject: string | null;
  name: string | null;
  email: string | null;
  organization: string | null;
  status: 'used' | 'closed';
  createdAt: number;
}

interface IdentityRow {
  id: string; username: string; provider_id: string | null; account_id: string | null; subject: string | null;
  name: string | null; email: string | null; organization: string | null; status: string; created_at: number;
}
interface ProviderRow { id: string; kind: ProviderKind; domain: string; display_name: string; config: string; disabled_at: number | null }

export const LOCAL_PROVIDER_DOMAIN = 'local';
export const CLIENTS_PROVIDER_DOMAIN = 'clients.auth.globus.org';

function toProvider(r: ProviderRow): ProviderRecord {
  const cfg = JSON.parse(r.config) as { oidc?: OidcProviderConfig };
  return { id: r.id, kind: r.kind, domain: r.domain, displayName: r.display_name, oidc: cfg.oidc, disabled: r.disabled_at !== null };
}

export class AccountRepo {
  private localId: string | undefined;
  private clientsId: string | undefined;

  constructor(private readonly db: Db) {}

  /** Make the built-in providers exist and adopt identities created before Ferry Auth (admin CLI). */
  ensureBuiltins(now = Date.now()): void {
    const tx = this.db.transaction(() => {
      for (const [kind, domain, name] of [['local', LOCAL_PROVIDER_DOMAIN, 'Ferry (username and password)'], ['clients', CLIENTS_PROVIDER_DOMAIN, 'Registered clients']] as const) {
        if (!this.db.prepare('SELECT 1 FROM identity_providers WHERE kind = ? AND domain = ?').get(kind, domain)) {
          this.db.prepare('INSERT INTO identity_providers (id, kind, domain, display_name, config, created_at) VALUES (?, ?, ?, ?, ?, ?)')
            .run(newId(), kind, domain, name, '{}', now);
        }
      }
      const local = this.providerByDomain(LOCAL_PROVIDER_DOMAIN)!;
      this.db.prepare('UPDATE identities SET provider_id = ? WHERE provider_id IS NULL').run(local.id);
      this.db.prepare('UPDATE identities SET account_id = id WHERE account_id IS NULL').run();
    });
    tx.immediate();
  }

  localProvider(): ProviderRecord {
    this.localId ??= this.providerByDomain(LOCAL_PROVIDER_DOMAIN)?.id;
    const p = this.localId ? this.provider(this.localId) : undefined;
    if (!p) throw new FerryError('InternalError', 'the local identity provider is missing');
    return p;
  }

  clientsProvider(): ProviderRecord {
    this.clientsId ??= this.providerByDomain(CLIENTS_PROVIDER_DOMAIN)?.id;
    const p = this.clientsId ? this.provider(this.clientsId) : undefined;
    if (!p) throw new FerryError('InternalError', 'the clients identity provider is missing');
    return p;
  }

  provider(id: string): ProviderRecord | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM identity_providers WHERE id = ?').get(id) as ProviderRow | undefined;
    return r && toProvider(r);
  }

  providerByDomain(domain: string): ProviderRecord | undefined {
    const r = this.db.prepare('SELECT * FROM identity_providers WHERE domain = ?').get(domain) as ProviderRow | undefined;
    return r && toProvider(r);
  }

  oidcProviders(): ProviderRecord[] {
    return (this.db.prepare("SELECT * FROM identity_providers WHERE kind = 'oidc' AND disabled_at IS NULL ORDER BY created_at").all() as ProviderRow[]).map(toProvider);
  }

  addOidcProvider(input: { domain: string; displayName: string; oidc: OidcProviderConfig }, now = Date.now()): ProviderRecord {
    if (this.providerByDomain(input.domain)) throw new FerryError('ClientError.Conflict', `an identity provider for '${input.domain}' already exists`);
    const id = newId();
    this.db.prepare("INSERT INTO identity_providers (id, kind, domain, display_name, config, created_at) VALUES (?, 'oidc', ?, ?, ?, ?)")
      .run(id, input.domain, input.displayName, JSON.stringify({ oidc: input.oidc }), now);
    return this.provider(id)!;
  }

  identity(id: string): Identity | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM identities WHERE id = ?').get(id) as IdentityRow | undefined;
    return r && this.toIdentity(r);
  }

  byUsername(username: string): Identity | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM identities WHERE username = ? COLLATE NOCASE').get(username) as IdentityRow | undefined;
    return r && this.toIdentity(r);
  }

  bySubject(providerId: string, subject: string): Identity | undefined {
    const r = this.db.prepare('SELECT * FROM identities WHERE provider_id = ? AND subject = ?').get(providerId, subject) as IdentityRow | undefined;
    return r && this.toIdentity(r);
  }

  create(input: { username: string; providerId: string; subject?: string | null; id?: string; name?: string | null; email?: string | null; organization?: string | null }, now = Date.now()): Identity {
    if (this.byUsername(input.username)) throw new FerryError('ClientError.Conflict', `an identity with username '${input.username}' already exists`);
    const id = input.id ?? newId();
    this.db.prepare(`INSERT INTO identities (id, username, email, name, organization, created_at, provider_id, account_id, subject, status)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'used')`)
      .run(id, input.username, input.email ?? null, input.name ?? null, input.organization ?? null, now, input.providerId, id, input.subject ?? null);
    return this.identity(id)!;
  }

  updateProfile(id: string, p: { name?: string | null; email?: string | null; organization?: string | null }): void {
    this.db.prepare('UPDATE identities SET name = COALESCE(?, name), email = COALESCE(?, email), organization = COALESCE(?, organization) WHERE id = ?')
      .run(p.name ?? null, p.email ?? null, p.organization ?? null, id);
  }

  /** The account's identities, primary first. */
  identitySet(identityId: string): Identity[] {
    const me = this.identity(identityId);
    if (!me) return [];
    const rows = cachedStatement(this.db, 'SELECT * FROM identities WHERE COALESCE(account_id, id) = ? ORDER BY (id = COALESCE(account_id, id)) DESC, created_at, id')
      .all(me.accountId) as IdentityRow[];
    return rows.map((r) => this.toIdentity(r));
  }

  /**
   * Link `other`'s whole account into `primary`'s account (logging in with a second identity
   * while signed in). Already linked: nothing changes.
   */
  link(primaryIdentityId: string, otherIdentityId: string): void {
    const a = this.identity(primaryIdentityId);
    const b = this.identity(otherIdentityId);
    if (!a || !b) throw new FerryError('ClientError.NotFound', 'no such identity');
    if (a.accountId === b.accountId) return;
    this.db.prepare('UPDATE identities SET account_id = ? WHERE COALESCE(account_id, id) = ?').run(a.accountId, b.accountId);
  }

  setStatus(id: string, status: 'used' | 'closed'): void {
    this.db.prepare('UPDATE identities SET status = ? WHERE id = ?').run(status, id);
  }

  setPassword(identityId: string, hash: string, now = Date.now()): void {
    this.db.prepare(`INSERT INTO local_passwords (identity_id, hash, updated_at) VALUES (?, ?, ?)
                     ON CONFLICT(identity_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`).run(identityId, hash, now);
  }

  passwordHash(identityId: string): string | undefined {
    const r = this.db.prepare('SELECT hash FROM local_passwords WHERE identity_id = ?').get(identityId) as { hash: string } | undefined;
    return r?.hash;
  }

  private toIdentity(r: IdentityRow): Identity {
    return {
      id: r.id, username: r.username, providerId: r.provider_id ?? this.localProvider().id, accountId: r.account_id ?? r.id,
      subject: r.subject, name: r.name, email: r.email, organization: r.organization,
      status: r.status === 'closed' ? 'closed' : 'used', createdAt: r.created_at,
    };
  }
}
