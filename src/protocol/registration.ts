import { Type, type Static } from '@sinclair/typebox';

/** HTTPS routes that agents (not people) call on control, outside the Globus API. */
export const AGENT_API_PREFIX = '/ferry/v1';
export const CA_ROUTE = `${AGENT_API_PREFIX}/ca.pem`;
export const REGISTER_ROUTE = `${AGENT_API_PREFIX}/agent/register`;
export const LINK_ROUTE = `${AGENT_API_PREFIX}/agent/link`;

export const RegisterRequest = Type.Object({
  setup_key: Type.String({ minLength: 1, maxLength: 2048 }),
  csr: Type.String({ minLength: 1, maxLength: 16384 }),
  hostname: Type.String({ minLength: 1, maxLength: 255 }),
  agent_version: Type.String({ maxLength: 64 }),
}, { additionalProperties: false });
export type RegisterRequest = Static<typeof RegisterRequest>;

export const RegisterResponse = Type.Object({
  DATA_TYPE: Type.Literal('agent_registration'),
  node_id: Type.String({ format: 'uuid' }),
  endpoint_id: Type.String({ format: 'uuid' }),
  certificate: Type.String({ maxLength: 16384 }),
  ca_certificate: Type.String({ maxLength: 16384 }),
}, { additionalProperties: false });
export type RegisterResponse = Static<typeof RegisterResponse>;
