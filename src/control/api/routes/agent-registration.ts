
import { FerryError } from '../../../common/errors.js';
import { newId } from '../../../common/ids.js';
import { assertSchema } from '../../../common/validate.js';
import { decodeSetupKey, signAgentCsr } from '../../../pki/index.js';
import { CA_ROUTE, REGISTER_ROUTE, RegisterRequest, type RegisterResponse } from '../../../protocol/index.js';
import type { Api, ApiContext } from '../context.js';

/**
 * The two routes a new agent calls before it has a certificate: fetch the CA (which it checks
 * against the hash in its setup key) and register with the one-time setup key and a CSR.
 */
export function registerAgentRoutes(app: Api, ctx: ApiContext): void {
  app.get(CA_ROUTE, async (_req, reply) => reply.type('application/x-pem-file').send(ctx.ca.certPem));

  app.post(REGISTER_ROUTE, async (req, reply) => {
    const body = assertSchema(RegisterRequest, req.body, 'ClientError.BadRequest', 'registration request');
    const key = decodeSetupKey(body.setup_key);
    if (key.h !== ctx.caFingerprint) throw new FerryError('SetupKey.Invalid', 'this setup key was issued by another control service');
    const nodeId = newId();
    // Sign first (a bad CSR must not burn the key), then consume the key and record the
    // node in one transaction so a key can never register two nodes.
    const pending = { nodeId, endpointId: '' };
    const registered = ctx.store.db.transaction(() => {
      const endpointId = ctx.store.setupKeys.consume(key.s);
      const ep = ctx.store.endpoints.get(endpointId);
      if (!ep || ep.deletedAt !== null) throw new FerryError('SetupKey.Invalid', 'the endpoint of this setup key was deleted');
      pending.endpointId = endpointId;
      const cert = signAgentCsr(ctx.ca, body.csr, { nodeId, endpointId });
      ctx.store.nodes.create({
        id: nodeId, endpointId, hostname: body.hostname, certFingerprint: cert.fingerprint,
        certSerial: cert.serial, certNotAfter: cert.notAfter.getTime(),
      });
      return cert;
    }).immediate();
    req.log.info({ nodeId, endpointId: pending.endpointId, hostname: body.hostname }, 'agent registered');
    const res: RegisterResponse = {
      DATA_TYPE: 'agent_registration', node_id: nodeId, endpoint_id: pending.endpointId,
      certificate: registered.certPem, ca_certificate: ctx.ca.certPem,
    };
    return reply.code(201).send(res);
  });
}
