import { Type, type Static } from '@sinclair/typebox';
import { AccessPermissions, AccessPrincipalType } from '../../protocol/index.js';
import { ENDPOINT_ROLES } from '../store/index.js';
import { describingFields } from './schemas.js';

/**
 * REST bodies of sharing (globus-api.md §1.4, §1.5), declared once. As elsewhere, documents
 * may carry keys we ignore (clients send back whole documents), DATA_TYPE may be absent.
 */
const Str = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);
const dataType = (name: string) => Type.Optional(Type.Literal(name));
const Uuid = Type.String({ format: 'uuid' });
const PathStr = Type.String({ minLength: 1, maxLength: 4096 });
/** ISO 8601 timestamp; parsed and checked by the route (null: no expiry). */
const IsoTime = Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]);

export const SharedEndpointBody = Type.Object({
  DATA_TYPE: dataType('shared_endpoint'),
  /** DOCS and the CLI send host_endpoint, the JS SDK host_endpoint_id: either is accepted. */
  host_endpoint: Type.Optional(Uuid),
  host_endpoint_id: Type.Optional(Uuid),
  host_path: PathStr,
  display_name: Type.String({ minLength: 1, maxLength: 128 }),
  ...describingFields,
  /** Globus accepts it on create: the collection's transfers are encrypted whatever their encrypt_data (its host's setting applies too). */
  force_encryption: Type.Optional(Type.Boolean()),
});
export type SharedEndpointBody = Static<typeof SharedEndpointBody>;

export const AccessCreateBody = Type.Object({
  DATA_TYPE: dataType('access'),
  principal_type: AccessPrincipalType,
  principal: Type.String({ maxLength: 64 }),
  path: PathStr,
  permissions: AccessPermissions,
  expiration_date: Type.Optional(IsoTime),
  /** Write-only: whom to tell about the new rule, and what to add to the message. */
  notify_email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
  notify_message: Type.Optional(Str(4096)),
});
export type AccessCreateBody = Static<typeof AccessCreateBody>;

/** Only permissions and expiration_date change; principal and path, when sent, must be the rule's. */
export const AccessUpdateBody = Type.Object({
  DATA_TYPE: dataType('access'),
  permissions: Type.Optional(AccessPermissions),
  expiration_date: Type.Optional(IsoTime),
  principal_type: Type.Optional(AccessPrincipalType),
  principal: Type.Optional(Type.String({ maxLength: 64 })),
  path: Type.Optional(PathStr),
});
export type AccessUpdateBody = Static<typeof AccessUpdateBody>;

export const RoleCreateBody = Type.Object({
  DATA_TYPE: dataType('role'),
  principal_type: Type.Union([Type.Literal('identity'), Type.Literal('group')]),
  principal: Uuid,
  role: Type.Union(ENDPOINT_ROLES.map((r) => Type.Literal(r))),
});
export type RoleCreateBody = Static<typeof RoleCreateBody>;
