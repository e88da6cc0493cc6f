import { FerryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import { cachedStatement, type Db } from './db.js';

export interface IdentityRecord {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  organization: string | null;
  createdAt: number;
}

interface Row { id: string; username: string; email: string | null; name: string | null; organization: string | null; created_at: number }

const toRecord = (r: Row): IdentityRecord => ({ id: r.id, username: r.username, email: r.email, name: r.name, organization: r.organization, createdAt: r.created_at });

export class IdentityRepo {
  constructor(private readonly db: Db) {}

  create(input: { username: string; email?: string | null; name?: string | null; organization?: string | null }): IdentityRecord {
    if (this.byUsername(input.username)) {
      throw new FerryError('ClientError.Conflict', `an identity with username '${input.username}' already exists`);
    }
    const rec: IdentityRecord = {
      id: newId(), username: input.username, email: input.email ?? null, name: input.name ?? null,
      organization: input.organization ?? null, createdAt: Date.now(),
    };
    this.db.prepare('INSERT INTO identities (id, username, email, name, organization, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(rec.id, rec.username, rec.email, rec.name, rec.organization, rec.createdAt);
    return rec;
  }

  byId(id: string): IdentityRecord | undefined {
    const row = cachedStatement(this.db, 'SELECT * FROM identities WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  byUsername(username: string): IdentityRecord | undefined {
    const row = this.db.prepare('SELECT * FROM identities WHERE username = ?').get(username) as Row | undefined;
    return row && toRecord(row);
  }
}
