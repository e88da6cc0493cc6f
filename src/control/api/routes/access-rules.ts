import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { isUuid, newRequestId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { authFor } from '../../auth/index.js';
import { accessGrantMessage } from '../../sharing/notify.js';
import { normaliseRulePath } from '../../sharing/paths.js';
import { TRANSFER_SCOPE, type AccessRuleRecord, type EndpointRecord } from '../../store/index.js';
import { globusTime } from '../../tasks/index.js';
import { authenticate } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { resourceOf } from '../errors.js';
import { managedCollection } from '../sharing-access.js';
import { AccessCreateBody, AccessUpdateBody, type AccessCreateBody as CreateBody } from '../sharing-schemas.js';
import type { SharingLimiters } from '../user-limits.js';
import { result } from './endpoints.js';

type EpParams = { Params: { id: string } };
type RuleParams = { Params: { id: string; ruleId: string } };

/** Rules one guest collection may have (Globus: 1000 permissions per guest collection). */
export const MAX_RULES_PER_COLLECTION = 1000;

function accessDocument(r: AccessRuleRecord): Record<string, unknown> {
  return {
    DATA_TYPE: 'access', id: r.id, role_id: null, role_type: null, principal_type: r.principalType, principal: r.principal,
    path: r.path, permissions: r.permissions, create_time: globusTime(r.createTime),
    expiration_date: r.expirationDate === null ? null : globusTime(r.expirationDate),
  };
}

/** The implicit rw on '/' of the owner and of administrator/access_manager role holders (globus-api.md §3). */
function implicitDocuments(ctx: ApiContext, ep: EndpointRecord): Record<string, unknown>[] {
  const entry = (roleId: string | null, roleType: string, principalType: string, principal: string, created: number) => ({
    DATA_TYPE: 'access', id: null, role_id: roleId, role_type: roleType, principal_type: principalType, principal,
    path: '/', permissions: 'rw', create_time: globusTime(created), expiration_date: null,
  });
  const docs = [entry(null, 'administrator', 'identity', ep.ownerId, ep.createdAt)];
  for (const r of ctx.store.roles.list(ep.id)) {
    if (r.role === 'administrator' || r.role === 'access_manager') docs.push(entry(r.id, r.role, r.principalType, r.principal, r.createTime));
  }
  return docs;
}

/** An ISO 8601 expiration date in the future, or null. */
function parseExpiration(value: string | null | undefined, now: number): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(ms)) throw new FerryError('ClientError.BadRequest', `expiration_date '${value}' is not an ISO 8601 timestamp`);
  if (ms <= now) throw new FerryError('ClientError.BadRequest', 'expiration_date is in the past');
  return ms;
}

/** A rule's principal must exist: an identity or a group id, or '' for everyone-rules. */
function checkPrincipal(ctx: ApiContext, body: Pick<CreateBody, 'principal_type' | 'principal'>): string {
  const { principal_type: type, principal } = body;
  if (type === 'all_authenticated_users' || type === 'anonymous') {
    if (principal !== '') throw new FerryError('ClientError.BadRequest', `principal must be '' when principal_type is ${type}`);
    return '';
  }
  const id = principal.toLowerCase();
  const exists = isUuid(id) && (type === 'identity' ? ctx.store.identities.byId(id) !== undefined : authFor(ctx.store.db).groups.byId(id) !== undefined);
  if (!exists) throw new FerryError('ClientError.BadRequest', `principal '${principal}' is not a known ${type} id`);
  return id;
}

/**
 * Access rules of guest collections (globus-api.md §1.5): listed with the implicit manager
 * entries, created (optionally notifying the grantee by e-mail), fetched, updated (permissions
 * and expiration only) and deleted. Every change is committed with a bump of the host's
 * sharing version and published to its agents, which enforce the rules.
 */
export function registerAccessRuleRoutes(app: Api, ctx: ApiContext, limiters: SharingLimiters): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);
  const ruleOf = (endpointId: string, ruleId: string): AccessRuleRecord => {
    const rule = isUuid(ruleId) ? ctx.store.accessRules.get(endpointId, ruleId.toLowerCase()) : undefined;
    if (!rule) throw new FerryError('AccessRuleNotFound', `No access rule '${ruleId}' on endpoint '${endpointId}'`);
    return rule;
  };

  app.get<EpParams>('/v0.10/endpoint/:id/access_list', async (req) => {
    const { ep } = managedCollection(ctx, auth(req), req.params.id, 'rules');
    const data = [...implicitDocuments(ctx, ep), ...ctx.store.accessRules.list(ep.id).map(accessDocument)];
    return { DATA_TYPE: 'access_list', endpoint: ep.id, length: data.length, DATA: data };
  });

  app.post<EpParams>('/v0.10/endpoint/:id/access', async (req, reply) => {
    const caller = auth(req);
    const { ep, hostId } = managedCollection(ctx, caller, req.params.id, 'rules');
    const body = assertSchema(AccessCreateBody, req.body, 'ClientError.BadRequest', 'access document');
    const now = Date.now();
    const principal = checkPrincipal(ctx, body);
    const path = normaliseRulePath(body.path);
    const expirationDate = parseExpiration(body.expiration_date, now) ?? null;
    if (ctx.store.accessRules.count(ep.id) >= MAX_RULES_PER_COLLECTION) {
      throw new FerryError('ClientError.Conflict', `A guest collection may have at most ${MAX_RULES_PER_COLLECTION} access rules`);
    }
    const notify = body.notify_email ?? null;
    limiters.changes.take(caller.identity.id, now);
    // Anyone with a guest collection can have mail sent to any address: bounded per identity.
    if (notify) limiters.notifications.take(caller.identity.id, now);
    const rule = ctx.sharing.commit(hostId, 'rule created', { changed: [ep.id] }, () => {
      const created = ctx.store.accessRules.create({
        endpointId: ep.id, principalType: body.principal_type, principal, path, permissions: body.permissions, expirationDate, createdBy: caller.identity.id,
      }, now);
      // Recorded with the rule: the mailer sends it later, or it waits for a mail server.
      if (notify) {
        const msg = accessGrantMessage({ collection: ep, rule: created, granter: caller.identity, note: body.notify_message, publicUrl: ctx.publicUrl });
        ctx.store.outbox.add({ kind: 'access_rule', recipient: notify, ...msg }, now);
      }
      return created;
    });
    if (notify) ctx.sharing.outboxChanged();
    req.log.info({ endpointId: ep.id, ruleId: rule.id, principalType: rule.principalType, path: rule.path, permissions: rule.permissions, notify: notify !== null }, 'access rule created');
    return reply.code(201).send({
      DATA_TYPE: 'access_create_result', code: 'Created', message: 'Access rule created successfully.', access_id: rule.id,
      request_id: newRequestId(), resource: resourceOf(req),
    });
  });

  app.get<RuleParams>('/v0.10/endpoint/:id/access/:ruleId', async (req) => {
    const { ep } = managedCollection(ctx, auth(req), req.params.id, 'rules');
    return accessDocument(ruleOf(ep.id, req.params.ruleId));
  });

  app.put<RuleParams>('/v0.10/endpoint/:id/access/:ruleId', async (req) => {
    const caller = auth(req);
    const { ep, hostId } = managedCollection(ctx, caller, req.params.id, 'rules');
    const rule = ruleOf(ep.id, req.params.ruleId);
    const body = assertSchema(AccessUpdateBody, req.body, 'ClientError.BadRequest', 'access document');
    // Clients send whole documents back; only permissions and expiration_date may differ.
    if ((body.principal_type !== undefined && body.principal_type !== rule.principalType)
      || (body.principal !== undefined && body.principal.toLowerCase() !== rule.principal)
      || (body.path !== undefined && normaliseRulePath(body.path) !== rule.path)) {
      throw new FerryError('ClientError.BadRequest', 'Only permissions and expiration_date of an access rule can be changed');
    }
    const expirationDate = parseExpiration(body.expiration_date, Date.now());
    limiters.changes.take(caller.identity.id);
    ctx.sharing.commit(hostId, 'rule updated', { changed: [ep.id] }, () => ctx.store.accessRules.update(ep.id, rule.id, {
      ...(body.permissions === undefined ? {} : { permissions: body.permissions }),
      ...(expirationDate === undefined ? {} : { expirationDate }),
    }));
    req.log.info({ endpointId: ep.id, ruleId: rule.id }, 'access rule updated');
    return result(req, 'Updated', `Access rule '${rule.id}' updated successfully`);
  });

  app.delete<RuleParams>('/v0.10/endpoint/:id/access/:ruleId', async (req) => {
    const caller = auth(req);
    const { ep, hostId } = managedCollection(ctx, caller, req.params.id, 'rules');
    const rule = ruleOf(ep.id, req.params.ruleId);
    limiters.changes.take(caller.identity.id);
    ctx.sharing.commit(hostId, 'rule deleted', { changed: [ep.id] }, () => ctx.store.accessRules.delete(ep.id, rule.id));
    req.log.info({ endpointId: ep.id, ruleId: rule.id }, 'access rule deleted');
    return result(req, 'Deleted', `Access rule '${rule.id}' deleted successfully`);
  });
}
