import type { FastifyRequest } from 'fastify';
import { newRequestId } from '../../../common/ids.js';
import { TRANSFER_SCOPE } from '../../store/index.js';
import { authenticate } from '../auth.js';
import type { Api, ApiContext } from '../context.js';
import { resourceOf } from '../errors.js';
import { visibleEndpoint } from './endpoints.js';

type EpParams = { Params: { id: string } };

/**
 * Endpoint activation, which older Globus clients call before their first ls or transfer.
 * Ferry endpoints need no activation (agents hold their own credentials), so every endpoint
 * the caller can see answers AlreadyActivated with empty requirements, as Globus does for
 * endpoints that need none.
 */
export function registerActivationRoutes(app: Api, ctx: ApiContext): void {
  const requirements = (req: FastifyRequest<EpParams>) => {
    const caller = authenticate(req, ctx.store, TRANSFER_SCOPE);
    const ep = visibleEndpoint(ctx, caller, req.params.id);
    return { ep, doc: { expires_in: -1, expire_time: null, auto_activation_supported: true, activated: true, oauth_server: null, length: 0, DATA: [] } };
  };

  app.get<EpParams>('/v0.10/endpoint/:id/activation_requirements', async (req) => ({ DATA_TYPE: 'activation_requirements', ...requirements(req).doc }));

  app.post<EpParams>('/v0.10/endpoint/:id/autoactivate', async (req) => {
    const { ep, doc } = requirements(req);
    return {
      DATA_TYPE: 'activation_result', code: 'AlreadyActivated', message: `Endpoint ${ep.id} does not require activation`,
      endpoint: ep.id, subject: null, ...doc, request_id: newRequestId(), resource: resourceOf(req),
    };
  });
}
