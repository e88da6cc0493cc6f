import { FerryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import { principalMatch, type PrincipalSet } from './access-rules.js';
import { cachedStatement, type Db } from './db.js';

export const ENDPOINT_ROLES = ['administrator', 'access_manager', 'activity_manager', 'activity_monitor'] as const;
export type EndpointRole = typeof ENDPOINT_ROLES[number];
export type RolePrincipalType = 'identity' | 'group';

/** A role on an endpoint held by an identity or a group (Globus `role` document). */
export interface RoleRecord {
  id: string;
  endpointId: string;
  principalType: RolePrincipalType;
  principal: string;
  role: EndpointRole;
  createTime: number;
}

interface Row { id: string; endpoint_id: string; principal_type: RolePrincipalType; principal: string; role: EndpointRole; create_time: number }

const toRecord = (r: Row): RoleRecord => ({
  id: r.id, endpointId: r.endpoint_id, principalType: r.principal_type, principal: r.principal, role: r.role, createTime: r.create_time,
});

export class RoleRepo {
  constructor(private readonly db: Db) {}

  /** Refuses (409 Exists) a principal that already holds this role here. */
  create(input: Omit<RoleRecord, 'id' | 'createTime'>, now = Date.now()): RoleRecord {
    const rec: RoleRecord = { ...input, id: newId(), createTime: now };
    try {
      this.db.prepare(`INSERT INTO endpoint_roles (id, endpoint_id, principal_type, principal, role, create_time)
        VALUES (@id, @endpointId, @principalType, @principal, @role, @createTime)`).run(rec);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new FerryError('Exists', `This principal already holds the role '${input.role}' here`);
      throw err;
    }
    return rec;
  }

  get(endpointId: string, id: string): RoleRecord | undefined {
    const row = cachedStatement(this.db, 'SELECT * FROM endpoint_roles WHERE id = ? AND endpoint_id = ?').get(id, endpointId) as Row | undefined;
    return row && toRecord(row);
  }

  list(endpointId: string): RoleRecord[] {
    return (cachedStatement(this.db, 'SELECT * FROM endpoint_roles WHERE endpoint_id = ? ORDER BY create_time, id').all(endpointId) as Row[]).map(toRecord);
  }

  delete(endpointId: string, id: string): boolean {
    return this.db.prepare('DELETE FROM endpoint_roles WHERE id = ? AND endpoint_id = ?').run(id, endpointId).changes > 0;
  }

  /** The roles these principals hold on this endpoint. */
  held(endpointId: string, p: PrincipalSet): EndpointRole[] {
    const m = principalMatch(p, false);
    const rows = this.db.prepare(`SELECT DISTINCT role FROM endpoint_roles WHERE endpoint_id = ? AND ${m.sql}`).all(endpointId, ...m.params) as { role: EndpointRole }[];
    return rows.map((r) => r.role);
  }

  /** Endpoints where these principals hold one of `roles` (any role when omitted). */
  endpointsHeld(p: PrincipalSet, roles?: readonly EndpointRole[]): string[] {
    const m = principalMatch(p, false);
    const roleSql = roles ? ` AND role IN (${roles.map(() => '?').join(', ')})` : '';
    const rows = this.db.prepare(`SELECT DISTINCT endpoint_id FROM endpoint_roles WHERE ${m.sql}${roleSql}`).all(...m.params, ...(roles ?? [])) as { endpoint_id: string }[];
    return rows.map((r) => r.endpoint_id);
  }
}
