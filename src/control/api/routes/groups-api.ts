import type { FastifyRequest } from 'fastify';
import { isUuid } from '../../../common/ids.js';
import { AuthError, badRequest, forbidden, notFound } from '../../auth/errors.js';
import type { GroupPolicies, GroupRecord, GroupRole, MembershipRecord } from '../../auth/groups.js';
import { GROUPS_RS, SCOPES } from '../../auth/scopes.js';
import type { AuthService } from '../../auth/service.js';
import type { Api } from '../context.js';
import { bearer } from './auth-common.js';

/**
 * Globus Groups API v2 (/v2/groups): groups, their policies and memberships with the roles
 * member, manager and admin. An account acts through all of its identities: its role in a group
 * is the best active role any of them holds.
 */
type Params = { Params: { id: string } };
const ROLES: readonly GroupRole[] = ['member', 'manager', 'admin'];
const RANK: Record<GroupRole, number> = { member: 1, manager: 2, admin: 3 };
const ACTIONS = ['add', 'remove', 'invite', 'accept', 'decline', 'leave', 'change_role'] as const;
type Action = typeof ACTIONS[number];

interface Me { ids: string[]; primary: string }

export function registerGroupRoutes(app: Api, auth: AuthService): void {
  const caller = (req: FastifyRequest, write: boolean): Me => {
    const c = bearer(req, auth, GROUPS_RS, write ? [SCOPES.groupsAll] : [SCOPES.groupsAll, SCOPES.groupsView]);
    const ids = auth.accounts.identitySet(c.identity.id).map((i) => i.id);
    return { ids: ids.length ? ids : [c.identity.id], primary: c.identity.id };
  };
  const roleOf = (g: GroupRecord, me: Me): GroupRole | undefined => {
    let best: GroupRole | undefined;
    for (const m of auth.groups.memberships(g.id)) {
      if (m.status === 'active' && me.ids.includes(m.identityId) && (!best || RANK[m.role] > RANK[best])) best = m.role;
    }
    return best;
  };
  const visible = (id: string, me: Me): GroupRecord => {
    const g = isUuid(id) ? auth.groups.byId(id.toLowerCase()) : undefined;
    const mine = g && auth.groups.memberships(g.id).some((m) => me.ids.includes(m.identityId) && ['active', 'invited', 'pending'].includes(m.status));
    if (!g || (!mine && g.policies.group_visibility !== 'authenticated')) throw notFound(`No group with id '${id}'`);
    return g;
  };
  const needRole = (g: GroupRecord, me: Me, min: GroupRole): GroupRole => {
    const r = roleOf(g, me);
    if (!r || RANK[r] < RANK[min]) throw forbidden(`This needs the ${min} role in the group`);
    return r;
  };

  const membershipDoc = (m: MembershipRecord) => ({
    group_id: m.groupId, identity_id: m.identityId, username: auth.accounts.identity(m.identityId)?.username ?? null, role: m.role, status: m.status,
    invite_time: m.status === 'invited' ? new Date(m.createdAt).toISOString() : null, updated: new Date(m.updatedAt).toISOString(), membership_fields: {},
  });
  const groupDoc = (g: GroupRecord, me: Me, include: string[]) => {
    const all = auth.groups.memberships(g.id);
    const role = roleOf(g, me);
    const doc: Record<string, unknown> = {
      id: g.id, name: g.name, description: g.description, parent_id: g.parentId, group_type: 'regular', enforce_session: false,
      session_limit: 28_800, session_timeouts: {}, terms_and_conditions: null,
      my_memberships: all.filter((m) => me.ids.includes(m.identityId)).map(membershipDoc),
    };
    const canSeeMembers = role !== undefined && (RANK[role] >= RANK.manager || g.policies.group_members_visibility === 'members');
    if (include.includes('memberships') && canSeeMembers) doc['memberships'] = all.map(membershipDoc);
    if (include.includes('policies')) doc['policies'] = g.policies;
    return doc;
  };
  const includes = (req: FastifyRequest): string[] => String((req.query as Record<string, unknown>)['include'] ?? '').split(',').map((s) => s.trim());

  app.get('/v2/groups/my_groups', async (req) => {
    const me = caller(req, false);
    const q = req.query as Record<string, string | string[] | undefined>;
    const statuses = (Array.isArray(q['statuses']) ? q['statuses'].join(',') : q['statuses'] ?? 'active').split(',');
    const ids = [...new Set(auth.groups.membershipsOf(me.ids).filter((m) => statuses.includes(m.status)).map((m) => m.groupId))];
    return ids.map((id) => auth.groups.byId(id)).filter((g): g is GroupRecord => !!g).map((g) => groupDoc(g, me, []));
  });

  app.post('/v2/groups', async (req, reply) => {
    const me = caller(req, true);
    const b = (req.body ?? {}) as { name?: unknown; description?: unknown; parent_id?: unknown };
    if (typeof b.name !== 'string' || b.name.trim() === '' || b.name.length > 255) throw badRequest('name is required (1-255 characters)');
    if (b.description !== undefined && b.description !== null && typeof b.description !== 'string') throw badRequest('description must be a string');
    let parentId: string | null = null;
    if (b.parent_id !== undefined && b.parent_id !== null) {
      const parent = visible(String(b.parent_id), me);
      needRole(parent, me, 'admin');
      parentId = parent.id;
    }
    const g = auth.groups.create({ name: b.name.trim(), description: (b.description as string | undefined) ?? null, parentId }, me.primary);
    void reply.code(201);
    return groupDoc(g, me, ['policies']);
  });

  app.get<Params>('/v2/groups/:id', async (req) => {
    const me = caller(req, false);
    return groupDoc(visible(req.params.id, me), me, includes(req));
  });

  app.put<Params>('/v2/groups/:id', async (req) => {
    const me = caller(req, true);
    const g = visible(req.params.id, me);
    needRole(g, me, 'admin');
    const b = (req.body ?? {}) as { name?: unknown; description?: unknown };
    if (b.name !== undefined && (typeof b.name !== 'string' || b.name.trim() === '')) throw badRequest('name must be a non-empty string');
    if (b.description !== undefined && b.description !== null && typeof b.description !== 'string') throw badRequest('description must be a string');
    return groupDoc(auth.groups.update(g.id, {
      ...(typeof b.name === 'string' ? { name: b.name.trim() } : {}), ...(b.description !== undefined ? { description: b.description as string | null } : {}),
    })!, me, []);
  });

  app.delete<Params>('/v2/groups/:id', async (req) => {
    const me = caller(req, true);
    const g = visible(req.params.id, me);
    needRole(g, me, 'admin');
    const doc = groupDoc(g, me, []);
    auth.groups.delete(g.id);
    return doc;
  });

  app.get<Params>('/v2/groups/:id/policies', async (req) => {
    const me = caller(req, false);
    return visible(req.params.id, me).policies;
  });

  app.put<Params>('/v2/groups/:id/policies', async (req) => {
    const me = caller(req, true);
    const g = visible(req.params.id, me);
    needRole(g, me, 'admin');
    const b = (req.body ?? {}) as Partial<Record<keyof GroupPolicies, unknown>>;
    const patch: Partial<GroupPolicies> = {};
    if (b.group_visibility !== undefined) {
      if (b.group_visibility !== 'authenticated' && b.group_visibility !== 'private') throw badRequest('group_visibility is authenticated or private');
      patch.group_visibility = b.group_visibility;
    }
    if (b.group_members_visibility !== undefined) {
      if (b.group_members_visibility !== 'members' && b.group_members_visibility !== 'managers') throw badRequest('group_members_visibility is members or managers');
      patch.group_members_visibility = b.group_members_visibility;
    }
    if (b.join_requests !== undefined) patch.join_requests = b.join_requests === true;
    if (Array.isArray(b.signup_fields)) patch.signup_fields = b.signup_fields.filter((x): x is string => typeof x === 'string');
    if (typeof b.authentication_assurance_timeout === 'number') patch.authentication_assurance_timeout = b.authentication_assurance_timeout;
    if (typeof b.is_high_assurance === 'boolean') patch.is_high_assurance = b.is_high_assurance;
    return auth.groups.setPolicies(g.id, patch)!.policies;
  });

  /** Batch membership actions; each item succeeds or lands in `errors` with a reason. */
  app.post<Params>('/v2/groups/:id', async (req) => {
    const me = caller(req, true);
    const g = visible(req.params.id, me);
    const myRole = roleOf(g, me);
    const body = (req.body ?? {}) as Partial<Record<Action, unknown>>;
    const out: Record<string, unknown> = {};
    const errors: Record<string, unknown[]> = {};
    for (const action of ACTIONS) {
      const items = body[action];
      if (items === undefined || items === null) continue;
      if (!Array.isArray(items)) throw badRequest(`${action} must be a list`);
      const done: unknown[] = [];
      for (const raw of items as Array<{ identity_id?: unknown; role?: unknown }>) {
        const identityId = typeof raw?.identity_id === 'string' ? raw.identity_id.toLowerCase() : '';
        const fail = (code: string, detail: string) => (errors[action] ??= []).push({ identity_id: identityId, code, detail });
        const role = (raw?.role ?? 'member') as GroupRole;
        if (!isUuid(identityId) || !auth.accounts.identity(identityId)) { fail('IDENTITY_NOT_FOUND', 'No such identity'); continue; }
        if (!ROLES.includes(role)) { fail('INVALID_ROLE', 'role is member, manager or admin'); continue; }
        const current = auth.groups.membership(g.id, identityId);
        const manager = myRole !== undefined && RANK[myRole] >= RANK.manager;
        const admin = myRole === 'admin';
        switch (action) {
          case 'add':
          case 'invite':
            if (!manager || (role !== 'member' && !admin)) { fail('FORBIDDEN', 'Needs the manager role (admin to grant manager or admin)'); continue; }
            if (current?.status === 'active') { fail('ALREADY_ACTIVE', 'Already an active member'); continue; }
            done.push(membershipDoc(auth.groups.setMembership(g.id, identityId, role, action === 'add' ? 'active' : 'invited')));
            break;
          case 'remove':
            if (!manager || (current?.role === 'admin' && !admin)) { fail('FORBIDDEN', 'Needs the manager role (admin to remove an admin)'); continue; }
            if (!current || current.status === 'removed') { fail('NOT_A_MEMBER', 'Not a member'); continue; }
            if (current.role === 'admin' && auth.groups.memberships(g.id).filter((m) => m.role === 'admin' && m.status === 'active').length === 1) {
              fail('LAST_ADMIN', 'A group keeps at least one admin'); continue;
            }
            done.push(membershipDoc(auth.groups.setMembership(g.id, identityId, current.role, 'removed')));
            break;
          case 'change_role':
            if (!admin) { fail('FORBIDDEN', 'Needs the admin role'); continue; }
            if (!current) { fail('NOT_A_MEMBER', 'Not a member'); continue; }
            done.push(membershipDoc(auth.groups.setMembership(g.id, identityId, role, current.status)));
            break;
          case 'accept':
          case 'decline':
            if (!me.ids.includes(identityId)) { fail('FORBIDDEN', 'Only the invited identity may answer an invitation'); continue; }
            if (current?.status !== 'invited') { fail('NOT_INVITED', 'No open invitation'); continue; }
            done.push(membershipDoc(auth.groups.setMembership(g.id, identityId, current.role, action === 'accept' ? 'active' : 'declined')));
            break;
          case 'leave':
            if (!me.ids.includes(identityId)) { fail('FORBIDDEN', 'Only members themselves may leave'); continue; }
            if (current?.status !== 'active') { fail('NOT_A_MEMBER', 'Not an active member'); continue; }
            done.push(membershipDoc(auth.groups.setMembership(g.id, identityId, current.role, 'left')));
            break;
        }
      }
      out[action] = done;
    }
    if (Object.keys(out).length === 0) throw new AuthError(400, 'invalid_request', `Name at least one action: ${ACTIONS.join(', ')}`);
    if (Object.keys(errors).length) out['errors'] = errors;
    return out;
  });
}
