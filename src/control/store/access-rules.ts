import { FerryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { AccessPermissions, AccessPrincipalType } from '../../protocol/sharing.js';
import { cachedStatement, type Db } from './db.js';

/** One access rule (ACL entry) of a guest collection (globus-api.md §1.5, §3). */
export interface AccessRuleRecord {
  id: string;
  endpointId: string;
  principalType: AccessPrincipalType;
  /** An identity or group id; '' for all_authenticated_users and anonymous. */
  principal: string;
  /** Relative to the collection's root, normalised to end in '/'. */
  path: string;
  permissions: AccessPermissions;
  createTime: number;
  /** Epoch ms after which the rule no longer applies; null: never. */
  expirationDate: number | null;
  createdBy: string;
}

export type NewAccessRule = Omit<AccessRuleRecord, 'id' | 'createTime'>;

interface Row {
  id: string; endpoint_id: string; principal_type: AccessPrincipalType; principal: string; path: string;
  permissions: AccessPermissions; create_time: number; expiration_date: number | null; created_by: string;
}

const toRecord = (r: Row): AccessRuleRecord => ({
  id: r.id, endpointId: r.endpoint_id, principalType: r.principal_type, principal: r.principal, path: r.path,
  permissions: r.permissions, createTime: r.create_time, expirationDate: r.expiration_date, createdBy: r.created_by,
});

/** Who a rule may name on behalf of a caller: identities of her account, her groups, and everyone-rules. */
export interface PrincipalSet {
  identityIds: readonly string[];
  groupIds: readonly string[];
}

/** `(principal_type = 'identity' AND principal IN …) OR …`, for a rule or role table. */
export function principalMatch(p: PrincipalSet, withEveryone: boolean): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  const list = (type: string, ids: readonly string[]) => {
    if (ids.length === 0) return;
    parts.push(`(principal_type = '${type}' AND principal IN (${ids.map(() => '?').join(', ')}))`);
    params.push(...ids);
  };
  list('identity', p.identityIds);
  list('group', p.groupIds);
  if (withEveryone) parts.push("principal_type IN ('all_authenticated_users', 'anonymous')");
  return { sql: parts.length ? `(${parts.join(' OR ')})` : '0', params };
}

export class AccessRuleRepo {
  constructor(private readonly db: Db) {}

  /** Refuses (409 Exists) a second rule for the same principal and path. */
  create(input: NewAccessRule, now = Date.now()): AccessRuleRecord {
    const rec: AccessRuleRecord = { ...input, id: newId(), createTime: now };
    try {
      this.db.prepare(`INSERT INTO access_rules (id, endpoint_id, principal_type, principal, path, permissions, create_time, expiration_date, created_by)
        VALUES (@id, @endpointId, @principalType, @principal, @path, @permissions, @createTime, @expirationDate, @createdBy)`).run(rec);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new FerryError('Exists', `An access rule for this principal and path '${input.path}' already exists`);
      }
      throw err;
    }
    return rec;
  }

  get(endpointId: string, id: string): AccessRuleRecord | undefined {
    const row = cachedStatement(this.db, 'SELECT * FROM access_rules WHERE id = ? AND endpoint_id = ?').get(id, endpointId) as Row | undefined;
    return row && toRecord(row);
  }

  /** Every rule of a collection, expired ones included (shown until deleted), oldest first. */
  list(endpointId: string): AccessRuleRecord[] {
    return (cachedStatement(this.db, 'SELECT * FROM access_rules WHERE endpoint_id = ? ORDER BY create_time, id').all(endpointId) as Row[]).map(toRecord);
  }

  count(endpointId: string): number {
    return (cachedStatement(this.db, 'SELECT COUNT(*) AS n FROM access_rules WHERE endpoint_id = ?').get(endpointId) as { n: number }).n;
  }

  update(endpointId: string, id: string, patch: { permissions?: AccessPermissions; expirationDate?: number | null }): void {
    const cur = this.get(endpointId, id);
    if (!cur) return;
    this.db.prepare('UPDATE access_rules SET permissions = ?, expiration_date = ? WHERE id = ?')
      .run(patch.permissions ?? cur.permissions, patch.expirationDate === undefined ? cur.expirationDate : patch.expirationDate, id);
  }

  delete(endpointId: string, id: string): boolean {
    return this.db.prepare('DELETE FROM access_rules WHERE id = ? AND endpoint_id = ?').run(id, endpointId).changes > 0;
  }

  /** Collections where an unexpired rule names one of these principals (or everyone). */
  endpointsGranting(p: PrincipalSet, now = Date.now()): string[] {
    const m = principalMatch(p, true);
    const rows = this.db.prepare(`SELECT DISTINCT endpoint_id FROM access_rules WHERE ${m.sql} AND (expiration_date IS NULL OR expiration_date > ?)`)
      .all(...m.params, now) as { endpoint_id: string }[];
    return rows.map((r) => r.endpoint_id);
  }
}
