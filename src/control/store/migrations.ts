/**
 * Numbered schema migrations, applied in order on start inside one transaction each.
 * Never edit a migration that has shipped; add a new one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'identities, tokens, endpoints, nodes, setup keys',
    sql: `
      CREATE TABLE identities (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE,
        email         TEXT,
        name          TEXT,
        organization  TEXT,
        created_at    INTEGER NOT NULL
      );
      CREATE TABLE tokens (
        token_hash    TEXT PRIMARY KEY,
        identity_id   TEXT NOT NULL REFERENCES identities(id),
        scopes        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER,
        revoked_at    INTEGER
      );
      CREATE INDEX tokens_identity ON tokens(identity_id);
      CREATE TABLE endpoints (
        id                 TEXT PRIMARY KEY,
        owner_id           TEXT NOT NULL REFERENCES identities(id),
        display_name       TEXT NOT NULL,
        description        TEXT,
        organization       TEXT,
        department         TEXT,
        keywords           TEXT,
        contact_email      TEXT,
        contact_info       TEXT,
        info_link          TEXT,
        default_directory  TEXT,
        is_globus_connect  INTEGER NOT NULL,
        public             INTEGER NOT NULL DEFAULT 0,
        created_at         INTEGER NOT NULL,
        deleted_at         INTEGER
      );
      CREATE INDEX endpoints_owner ON endpoints(owner_id);
      CREATE TABLE setup_keys (
        key_hash      TEXT PRIMARY KEY,
        endpoint_id   TEXT NOT NULL REFERENCES endpoints(id),
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        used_at       INTEGER
      );
      CREATE TABLE nodes (
        id                 TEXT PRIMARY KEY,
        endpoint_id        TEXT NOT NULL REFERENCES endpoints(id),
        hostname           TEXT NOT NULL,
        cert_fingerprint   TEXT NOT NULL UNIQUE,
        cert_serial        TEXT NOT NULL,
        cert_not_after     INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        last_seen_at       INTEGER,
        revoked_at         INTEGER
      );
      CREATE INDEX nodes_endpoint ON nodes(endpoint_id);
    `,
  },
];
