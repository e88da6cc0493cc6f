import Database from 'better-sqlite3';
import { FerryError } from '../../common/errors.js';
import { checkSchema } from '../../common/validate.js';
import { GuestCollection } from '../../protocol/index.js';
import { preparePrivateDbFile } from '../../common/private-files.js';

/**
 * The agent's copy of its guest collections and their rules, in its state database (the same
 * SQLite file as the restart markers, its own table). Kept so an agent restarted while control
 * is away still knows what it shares; it serves no guest request from it until control has
 * refreshed it (see SharingReplica).
 */

export interface StoredReplica {
  version: number;
  collections: GuestCollection[];
}

export interface ReplicaStore {
  load(): StoredReplica;
  save(replica: StoredReplica): void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sharing_replica (
  collection_id TEXT PRIMARY KEY,
  doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sharing_meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

export class SqliteReplicaStore implements ReplicaStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    try {
      preparePrivateDbFile(file);
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new FerryError('Store.Unavailable', `cannot open the agent's state database ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  load(): StoredReplica {
    const row = this.db.prepare("SELECT value FROM sharing_meta WHERE key = 'version'").get() as { value: number } | undefined;
    const collections: GuestCollection[] = [];
    for (const { doc } of this.db.prepare('SELECT doc FROM sharing_replica').all() as Array<{ doc: string }>) {
      // A row that no longer validates is dropped: control's next snapshot brings it back.
      try {
        const parsed: unknown = JSON.parse(doc);
        if (checkSchema(GuestCollection, parsed) === null) collections.push(parsed as GuestCollection);
      } catch {
        // ignored, as above
      }
    }
    return { version: row?.value ?? 0, collections };
  }

  save(replica: StoredReplica): void {
    const insert = this.db.prepare('INSERT INTO sharing_replica (collection_id, doc) VALUES (?, ?)');
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM sharing_replica').run();
      for (const c of replica.collections) insert.run(c.id, JSON.stringify(c));
      this.db.prepare("INSERT INTO sharing_meta (key, value) VALUES ('version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(replica.version);
    })();
  }

  close(): void {
    this.db.close();
  }
}
