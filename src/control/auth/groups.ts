import { newId } from '../../common/ids.js';
import { cachedStatement, type Db } from '../store/db.js';

/**
 * Globus Groups (API v2) state: groups, their policies and memberships. Membership is held by
 * identities; an account is in a group when any of its identities is an active member.
 */
export type GroupRole = 'member' | 'manager' | 'admin';
export type MembershipStatus = 'active' | 'invited' | 'pending' | 'rejected' | 'removed' | 'left' | 'declined';

export interface GroupPolicies {
  group_visibility: 'authenticated' | 'private';
  group_members_visibility: 'members' | 'managers';
  join_requests: boolean;
  signup_fields: string[];
  authentication_assurance_timeout: number;
  is_high_assurance: boolean;
}

export const DEFAULT_POLICIES: GroupPolicies = {
  group_visibility: 'private', group_members_visibility: 'managers', join_requests: false, signup_fields: [],
  authentication_assurance_timeout: 28_800, is_high_assurance: false,
};

export interface GroupRecord { id: string; name: string; description: string | null; parentId: string | null; policies: GroupPolicies; createdAt: number }
export interface MembershipRecord { groupId: string; identityId: string; role: GroupRole; status: MembershipStatus; createdAt: number; updatedAt: number }

interface GroupRow { id: string; name: string; description: string | null; parent_id: string | null; policies: string; created_at: number }
interface MemberRow { group_id: string; identity_id: string; role: GroupRole; status: MembershipStatus; created_at: number; updated_at: number }

const toGroup = (r: GroupRow): GroupRecord => ({
  id: r.id, name: r.name, description: r.description, parentId: r.parent_id,
  policies: { ...DEFAULT_POLICIES, ...(JSON.parse(r.policies) as Partial<GroupPolicies>) }, createdAt: r.created_at,
});
const toMember = (r: MemberRow): MembershipRecord => ({
  groupId: r.group_id, identityId: r.identity_id, role: r.role, status: r.status, createdAt: r.created_at, updatedAt: r.updated_at,
});

export class GroupRepo {
  constructor(private readonly db: Db) {}

  create(input: { name: string; description?: string | null; parentId?: string | null; policies?: Partial<GroupPolicies> }, adminIdentityId: string, now = Date.now()): GroupRecord {
    const id = newId();
    const tx = this.db.transaction(() => {
      this.db.prepare('INSERT INTO groups (id, name, description, parent_id, policies, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, input.name, input.description ?? null, input.parentId ?? null, JSON.stringify({ ...DEFAULT_POLICIES, ...input.policies }), now);
      this.setMembership(id, adminIdentityId, 'admin', 'active', now);
    });
    tx.immediate();
    return this.byId(id)!;
  }

  byId(id: string): GroupRecord | undefined {
    const r = cachedStatement(this.db, 'SELECT * FROM groups WHERE id = ?').get(id) as GroupRow | undefined;
    return r && toGroup(r);
  }

  update(id: string, patch: { name?: string; description?: string | null }): GroupRecord | undefined {
    this.db.prepare('UPDATE groups SET name = COALESCE(?, name), description = CASE WHEN ? THEN ? ELSE description END WHERE id = ?')
      .run(patch.name ?? null, patch.description !== undefined ? 1 : 0, patch.description ?? null, id);
    return this.byId(id);
  }

  setPolicies(id: string, policies: Partial<GroupPolicies>): GroupRecord | undefined {
    const g = this.byId(id);
    if (!g) return undefined;
    this.db.prepare('UPDATE groups SET policies = ? WHERE id = ?').run(JSON.stringify({ ...g.policies, ...policies }), id);
    return this.byId(id);
  }

  delete(id: string): boolean {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM group_memberships WHERE group_id = ?').run(id);
      this.db.prepare('UPDATE groups SET parent_id = NULL WHERE parent_id = ?').run(id);
      return this.db.prepare('DELETE FROM groups WHERE id = ?').run(id).changes > 0;
    });
    return tx.immediate();
  }

  memberships(groupId: string): MembershipRecord[] {
    return (this.db.prepare('SELECT * FROM group_memberships WHERE group_id = ? ORDER BY created_at, identity_id').all(groupId) as MemberRow[]).map(toMember);
  }

  membership(groupId: string, identityId: string): MembershipRecord | undefined {
    const r = this.db.prepare('SELECT * FROM group_memberships WHERE group_id = ? AND identity_id = ?').get(groupId, identityId) as MemberRow | undefined;
    return r && toMember(r);
  }

  setMembership(groupId: string, identityId: string, role: GroupRole, status: MembershipStatus, now = Date.now()): MembershipRecord {
    this.db.prepare(`INSERT INTO group_memberships (group_id, identity_id, role, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                     ON CONFLICT(group_id, identity_id) DO UPDATE SET role = excluded.role, status = excluded.status, updated_at = excluded.updated_at`)
      .run(groupId, identityId, role, status, now, now);
    return this.membership(groupId, identityId)!;
  }

  /** Memberships of any of these identities, in any status, with their groups. */
  membershipsOf(identityIds: readonly string[]): MembershipRecord[] {
    if (identityIds.length === 0) return [];
    const marks = identityIds.map(() => '?').join(',');
    return (this.db.prepare(`SELECT * FROM group_memberships WHERE identity_id IN (${marks}) ORDER BY created_at`).all(...identityIds) as MemberRow[]).map(toMember);
  }

  /** Ids of the groups where any of these identities is an active member: access-rule principals. */
  activeGroupIds(identityIds: readonly string[]): string[] {
    return [...new Set(this.membershipsOf(identityIds).filter((m) => m.status === 'active').map((m) => m.groupId))];
  }
}
