import { Type, type Static } from '@sinclair/typebox';

const Uuid = Type.String({ format: 'uuid' });

/**
 * Who asks, as control attaches it to a file operation or a guest side of a transfer session:
 * every identity of the caller's account and the groups they are active members of. The agent
 * decides from its own replica of the rules (DESIGN.md "Trust").
 */
export const Principals = Type.Object({
  identityId: Type.Union([Uuid, Type.Null()]),
  linkedIdentityIds: Type.Array(Uuid, { maxItems: 1000 }),
  groupIds: Type.Array(Uuid, { maxItems: 10000 }),
  authenticated: Type.Boolean(),
}, { additionalProperties: false });
export type Principals = Static<typeof Principals>;
