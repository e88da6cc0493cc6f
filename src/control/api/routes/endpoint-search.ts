import type { FastifyRequest } from 'fastify';
import { FerryError } from '../../../common/errors.js';
import { isUuid } from '../../../common/ids.js';
import { TRANSFER_SCOPE, type EndpointRecord } from '../../store/index.js';
import type { EndpointSearch } from '../../store/endpoints.js';
import { accountIdentityIds, authenticate, ownedByAccount, type Caller } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { callerPrincipalSet, endpointDocFor } from '../endpoint-views.js';
import { bool, int, one, type Query } from '../query.js';
import { ENDPOINT_SEARCH_SCOPES } from '../schemas.js';

/** Globus answers at most this many results in total (globus-api.md §1.4). */
const MAX_RESULTS = 1000;

type Scope = typeof ENDPOINT_SEARCH_SCOPES[number];

/**
 * What each filter_scope selects, as a store search (plus, for the two task-based scopes, the
 * order of use). Scopes other than 'all' and 'hide-no-permissions' name endpoints the account
 * owns, administers, uses or was granted access to.
 */
function scopeQuery(ctx: ApiContext, caller: Caller, scope: Scope): { search: Partial<EndpointSearch>; order?: string[] } {
  const account = accountIdentityIds(caller);
  const principals = callerPrincipalSet(caller);
  switch (scope) {
    case 'all':
      return { search: { visibleTo: account } };
    case 'my-endpoints':
    case 'hide-no-permissions':
      return { search: { ownerId: account } };
    case 'my-gcp-endpoints':
      return { search: { ownerId: account, guest: false, globusConnect: true } };
    case 'shared-by-me':
      return { search: { ownerId: account, guest: true } };
    case 'shared-with-me': {
      // Unexpired rules naming the caller (or everyone), or a role naming her; not her own.
      const ids = new Set([...ctx.store.accessRules.endpointsGranting(principals), ...ctx.store.roles.endpointsHeld(principals)]);
      return { search: { ids: [...ids], guest: true, notOwnerId: account } };
    }
    case 'administered-by-me': {
      const ids = new Set([...ctx.store.endpoints.idsOwnedBy(account), ...ctx.store.roles.endpointsHeld(principals, ['administrator'])]);
      return { search: { ids: [...ids] } };
    }
    case 'recently-used':
    case 'in-use': {
      const order = ctx.store.tasks.endpointsUsed(account, scope === 'in-use' ? ['ACTIVE', 'INACTIVE'] : undefined, MAX_RESULTS);
      return { search: { ids: order, visibleTo: account }, order };
    }
  }
}

export function registerEndpointSearchRoutes(app: Api, ctx: ApiContext): void {
  const auth = (req: FastifyRequest) => authenticate(req, ctx.store, TRANSFER_SCOPE);

  app.get('/v0.10/endpoint_search', async (req) => {
    const caller = auth(req);
    const q = req.query as Query;
    const scope = (one(q, 'filter_scope') ?? 'all') as Scope;
    if (!(ENDPOINT_SEARCH_SCOPES as readonly string[]).includes(scope)) {
      throw new FerryError('ClientError.BadRequest', `filter_scope must be one of ${ENDPOINT_SEARCH_SCOPES.join(', ')}`);
    }
    const text = one(q, 'filter_fulltext');
    if (scope === 'all' && !text) throw new FerryError('ClientError.BadRequest', "filter_fulltext is required when filter_scope is 'all'");
    const limit = int(q, 'limit', 25, 1, 100);
    const offset = int(q, 'offset', 0, 0, MAX_RESULTS - 1);
    if (offset + limit > MAX_RESULTS) throw new FerryError('ClientError.BadRequest', `offset + limit must not exceed ${MAX_RESULTS}`);
    const nonFunctional = one(q, 'filter_non_functional');
    if (nonFunctional !== undefined) bool(q, 'filter_non_functional', false);
    const entityType = one(q, 'filter_entity_type');
    if (entityType !== undefined && nonFunctional !== undefined) {
      throw new FerryError('ClientError.BadRequest', 'filter_non_functional and filter_entity_type cannot be combined');
    }
    const hostFilter = one(q, 'filter_host_endpoint');
    if (hostFilter !== undefined && !isUuid(hostFilter)) throw new FerryError('ClientError.BadRequest', 'filter_host_endpoint must be an endpoint id');
    const ownerFilter = one(q, 'filter_owner_id');

    const { search, order } = scopeQuery(ctx, caller, scope);
    const extra: Partial<EndpointSearch> = {};
    if (ownerFilter && search.ownerId === undefined) extra.ownerId = ownerFilter;
    if (hostFilter) {
      // Which collections a host serves is told only about a host the caller may see.
      const host = ctx.store.endpoints.get(hostFilter.toLowerCase());
      if (!host || !(host.public || ownedByAccount(caller, host.ownerId))) return { DATA_TYPE: 'endpoint_list', limit, offset, has_next_page: false, DATA: [] };
      extra.hostEndpointId = host.id;
    }
    if (entityType === 'GCP_guest_collection') extra.guest = true;
    else if (entityType === 'GCP_mapped_collection') Object.assign(extra, { guest: false, globusConnect: true });
    else if (entityType !== undefined && entityType !== '') return { DATA_TYPE: 'endpoint_list', limit, offset, has_next_page: false, DATA: [] };

    let records: EndpointRecord[];
    let hasNextPage: boolean;
    if (order) {
      // Most recently used first: fetch the (at most 1000) matches, order them, then page.
      const all = ctx.store.endpoints.search({ ...search, ...extra, text, limit: MAX_RESULTS, offset: 0 }).records;
      const rank = new Map(order.map((id, i) => [id, i]));
      all.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
      records = all.slice(offset, offset + limit);
      hasNextPage = offset + limit < all.length;
    } else {
      const found = ctx.store.endpoints.search({ ...search, ...extra, text, limit, offset });
      records = found.records;
      hasNextPage = found.hasNextPage && offset + limit < MAX_RESULTS;
    }
    return { DATA_TYPE: 'endpoint_list', limit, offset, has_next_page: hasNextPage, DATA: records.map((r) => endpointDocFor(ctx, caller, r)) };
  });
}
