import Database from 'better-sqlite3';
import { FerryError } from '../../common/errors.js';
import { preparePrivateDbFile } from '../../common/private-files.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

const statements = new WeakMap<Db, Map<string, Database.Statement>>();
/** Distinct statements kept per database; SQL built from many optional parts beyond that is prepared each time. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * `db.prepare(sql)`, once per database and SQL text. For the hot paths: control answers task
 * polls and records agents' progress and finished files many times a second, and preparing
 * (parsing and planning) a statement costs more than running it (profiled: about half of the
 * store's time while a task of 20,000 small files ran and was polled).
 */
export function cachedStatement(db: Db, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) {
    byText = new Map();
    statements.set(db, byText);
  }
  let stmt = byText.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    if (byText.size < MAX_CACHED_STATEMENTS) byText.set(sql, stmt);
  }
  return stmt;
}

/**
 * Open (creating if needed, mode 0600, as its -wal and -shm files) the control database in
 * WAL mode and bring its schema up to date.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  preparePrivateDbFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Waits for another process's write lock. It does not help a deferred transaction that read
  // first and then writes after another process committed (WAL answers SQLITE_BUSY at once):
  // control's read-then-write transactions therefore run `.immediate()`.
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new FerryError('Store.MigrationFailed', `database schema version ${current} is newer than this Ferry (${latest}); upgrade Ferry`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    const apply = db.transaction(() => {
      if (schemaVersion(db) >= m.version) return; // another process (the CLI beside control) got there first
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      apply.immediate();
    } catch (err) {
      throw new FerryError('Store.MigrationFailed', `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * Owners an object may have to match: one identity id, or every identity of an account
 * (identity sets are small, so an `IN` list of bound parameters).
 */
export type OwnerIds = string | readonly string[];

/** `column = ?` or `column IN (?, …)` with its parameters; an empty list matches nothing. */
export function ownerMatch(column: string, owners: OwnerIds): { sql: string; params: string[] } {
  const ids = typeof owners === 'string' ? [owners] : [...new Set(owners)];
  if (ids.length === 0) return { sql: '0', params: [] };
  if (ids.length === 1) return { sql: `${column} = ?`, params: ids };
  return { sql: `${column} IN (${ids.map(() => '?').join(', ')})`, params: ids };
}
