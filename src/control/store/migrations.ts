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
  {
    version: 2,
    name: 'tasks, task events, successful transfers, submission ids',
    sql: `
      CREATE TABLE tasks (
        id                  TEXT PRIMARY KEY,
        owner_id            TEXT NOT NULL REFERENCES identities(id),
        type                TEXT NOT NULL CHECK (type IN ('TRANSFER', 'DELETE')),
        status              TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE', 'SUCCEEDED', 'FAILED')),
        label               TEXT,
        submission_id       TEXT NOT NULL,
        -- DELETE tasks name their endpoint as the source, as Globus does.
        source_endpoint_id       TEXT NOT NULL,
        destination_endpoint_id  TEXT,
        options             TEXT NOT NULL,
        items               TEXT NOT NULL,
        request_time        INTEGER NOT NULL,
        completion_time     INTEGER,
        deadline            INTEGER NOT NULL,
        fatal_error         TEXT,
        nice_status         TEXT,
        nice_status_description TEXT,
        -- Counters of finished attempts, and of the running session (JSON SessionStats).
        stats_base          TEXT NOT NULL,
        stats_cur           TEXT,
        attempts            INTEGER NOT NULL DEFAULT 0,
        failures            INTEGER NOT NULL DEFAULT 0,
        items_done          INTEGER NOT NULL DEFAULT 0,
        retry_at            INTEGER NOT NULL DEFAULT 0,
        -- The open session {sessionId, sourceNode, destinationNode}, so a restarted control can cancel it.
        session             TEXT
      );
      CREATE INDEX tasks_owner ON tasks(owner_id, request_time);
      CREATE INDEX tasks_status ON tasks(status);
      CREATE TABLE task_events (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id      TEXT NOT NULL REFERENCES tasks(id),
        time         INTEGER NOT NULL,
        code         TEXT NOT NULL,
        is_error     INTEGER NOT NULL,
        description  TEXT NOT NULL,
        details      TEXT NOT NULL
      );
      CREATE INDEX task_events_task ON task_events(task_id, id);
      CREATE TABLE successful_transfers (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id             TEXT NOT NULL REFERENCES tasks(id),
        source_path         TEXT NOT NULL,
        destination_path    TEXT NOT NULL,
        size                INTEGER NOT NULL,
        checksum            TEXT,
        checksum_algorithm  TEXT
      );
      -- A file re-sent by a retried session is listed once.
      CREATE UNIQUE INDEX successful_transfers_task ON successful_transfers(task_id, destination_path);
      CREATE INDEX successful_transfers_page ON successful_transfers(task_id, id);
      CREATE TABLE submission_ids (
        owner_id       TEXT NOT NULL REFERENCES identities(id),
        submission_id  TEXT NOT NULL,
        task_id        TEXT NOT NULL REFERENCES tasks(id),
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (owner_id, submission_id)
      );
    `,
  },
  {
    version: 4,
    name: 'Ferry Auth: identity providers, accounts, passwords, clients, codes, tokens, consents, sessions, signing keys',
    sql: `
      CREATE TABLE identity_providers (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('local', 'oidc', 'clients')),
        domain        TEXT NOT NULL UNIQUE,
        display_name  TEXT NOT NULL,
        config        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        disabled_at   INTEGER
      );
      -- account_id names the account's primary identity; NULL rows are adopted on start.
      ALTER TABLE identities ADD COLUMN provider_id TEXT REFERENCES identity_providers(id);
      ALTER TABLE identities ADD COLUMN account_id TEXT;
      ALTER TABLE identities ADD COLUMN subject TEXT;
      ALTER TABLE identities ADD COLUMN status TEXT NOT NULL DEFAULT 'used';
      CREATE INDEX identities_account ON identities(account_id);
      CREATE UNIQUE INDEX identities_provider_subject ON identities(provider_id, subject) WHERE subject IS NOT NULL;
      CREATE TABLE local_passwords (
        identity_id   TEXT PRIMARY KEY REFERENCES identities(id),
        hash          TEXT NOT NULL,
        updated_at    INTEGER NOT NULL
      );
      CREATE TABLE oauth_clients (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        public            INTEGER NOT NULL,
        secret_hash       TEXT,
        redirect_uris     TEXT NOT NULL,
        resource_server   INTEGER NOT NULL DEFAULT 0,
        dependent_scopes  TEXT NOT NULL DEFAULT '',
        owner_id          TEXT,
        created_at        INTEGER NOT NULL,
        disabled_at       INTEGER
      );
      CREATE TABLE oauth_codes (
        code_hash       TEXT PRIMARY KEY,
        client_id       TEXT NOT NULL REFERENCES oauth_clients(id),
        identity_id     TEXT NOT NULL REFERENCES identities(id),
        scopes          TEXT NOT NULL,
        redirect_uri    TEXT NOT NULL,
        code_challenge  TEXT,
        nonce           TEXT,
        offline         INTEGER NOT NULL,
        auth_time       INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        used_at         INTEGER,
        family_id       TEXT NOT NULL
      );
      CREATE TABLE oauth_tokens (
        token_hash       TEXT PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        client_id        TEXT NOT NULL,
        identity_id      TEXT NOT NULL REFERENCES identities(id),
        resource_server  TEXT NOT NULL,
        scopes           TEXT NOT NULL,
        family_id        TEXT NOT NULL,
        created_at       INTEGER NOT NULL,
        expires_at       INTEGER,
        used_at          INTEGER,
        revoked_at       INTEGER
      );
      CREATE INDEX oauth_tokens_family ON oauth_tokens(family_id);
      CREATE INDEX oauth_tokens_identity ON oauth_tokens(identity_id);
      CREATE TABLE oauth_consents (
        identity_id   TEXT NOT NULL REFERENCES identities(id),
        client_id     TEXT NOT NULL REFERENCES oauth_clients(id),
        scopes        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        PRIMARY KEY (identity_id, client_id)
      );
      CREATE TABLE auth_sessions (
        session_hash  TEXT PRIMARY KEY,
        identity_id   TEXT NOT NULL REFERENCES identities(id),
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        revoked_at    INTEGER
      );
      CREATE TABLE auth_signing_keys (
        kid           TEXT PRIMARY KEY,
        private_jwk   TEXT NOT NULL,
        created_at    INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'Groups: groups and memberships',
    sql: `
      CREATE TABLE groups (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        description   TEXT,
        parent_id     TEXT REFERENCES groups(id),
        policies      TEXT NOT NULL,
        created_at    INTEGER NOT NULL
      );
      CREATE TABLE group_memberships (
        group_id      TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        identity_id   TEXT NOT NULL REFERENCES identities(id),
        role          TEXT NOT NULL CHECK (role IN ('member', 'manager', 'admin')),
        status        TEXT NOT NULL CHECK (status IN ('active', 'invited', 'pending', 'rejected', 'removed', 'left', 'declined')),
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (group_id, identity_id)
      );
      CREATE INDEX group_memberships_identity ON group_memberships(identity_id);
    `,
  },
  {
    version: 6,
    name: 'Sharing: guest collections, access rules, endpoint roles, sharing versions, notification outbox',
    sql: `
      -- A guest collection is an endpoint row whose host is a mapped endpoint; host_path is an
      -- API path of the host endpoint, ending in '/'.
      ALTER TABLE endpoints ADD COLUMN host_endpoint_id TEXT REFERENCES endpoints(id);
      ALTER TABLE endpoints ADD COLUMN host_path TEXT;
      CREATE INDEX endpoints_host ON endpoints(host_endpoint_id) WHERE host_endpoint_id IS NOT NULL;
      CREATE TABLE access_rules (
        id               TEXT PRIMARY KEY,
        endpoint_id      TEXT NOT NULL REFERENCES endpoints(id),
        principal_type   TEXT NOT NULL CHECK (principal_type IN ('identity', 'group', 'all_authenticated_users', 'anonymous')),
        principal        TEXT NOT NULL,
        path             TEXT NOT NULL,
        permissions      TEXT NOT NULL CHECK (permissions IN ('r', 'rw')),
        create_time      INTEGER NOT NULL,
        expiration_date  INTEGER,
        created_by       TEXT NOT NULL REFERENCES identities(id)
      );
      CREATE UNIQUE INDEX access_rules_principal_path ON access_rules(endpoint_id, principal_type, principal, path);
      CREATE INDEX access_rules_principal ON access_rules(principal);
      CREATE TABLE endpoint_roles (
        id               TEXT PRIMARY KEY,
        endpoint_id      TEXT NOT NULL REFERENCES endpoints(id),
        principal_type   TEXT NOT NULL CHECK (principal_type IN ('identity', 'group')),
        principal        TEXT NOT NULL,
        role             TEXT NOT NULL CHECK (role IN ('administrator', 'access_manager', 'activity_manager', 'activity_monitor')),
        create_time      INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX endpoint_roles_unique ON endpoint_roles(endpoint_id, principal_type, principal, role);
      CREATE INDEX endpoint_roles_principal ON endpoint_roles(principal);
      -- Per host endpoint: the version of its guest collections' rules that agents replicate.
      CREATE TABLE sharing_versions (
        host_endpoint_id  TEXT PRIMARY KEY REFERENCES endpoints(id),
        version           INTEGER NOT NULL
      );
      -- Messages to send (access-rule notifications); rows stay when no mail server is configured.
      CREATE TABLE notification_outbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        kind             TEXT NOT NULL,
        recipient        TEXT NOT NULL,
        subject          TEXT NOT NULL,
        body             TEXT NOT NULL,
        created_at       INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER NOT NULL,
        last_error       TEXT,
        sent_at          INTEGER,
        failed_at        INTEGER
      );
      CREATE INDEX notification_outbox_due ON notification_outbox(next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
    `,
  },
  {
    version: 7,
    name: 'Endpoint force_encryption',
    sql: `
      -- Globus force_encryption: every task touching the endpoint runs encrypted, whatever its encrypt_data.
      ALTER TABLE endpoints ADD COLUMN force_encryption INTEGER NOT NULL DEFAULT 0;
    `,
  },
];
