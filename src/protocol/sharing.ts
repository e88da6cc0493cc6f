import { Type, type Static } from '@sinclair/typebox';

/**
 * Sharing on the control -> agent link (DESIGN.md "Trust": the agent decides every guest
 * request from its own replica of the rules). Control sends a host endpoint's agent every
 * guest collection hosted on it with its access rules and role holders: a whole snapshot
 * after each hello, then updates, each replacing whole collections. Versions are per host
 * endpoint and only grow; an update whose `baseVersion` is not the agent's version is refused
 * with Sharing.VersionGap, and control answers with a snapshot.
 *
 * Nothing here widens what the agent's own config allows: the agent refuses a collection
 * whose host path is not below a root it marks shareable, and a rule whose path would leave
 * its collection, whatever control says.
 */

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Uuid = Type.String({ format: 'uuid' });

export const ACCESS_PRINCIPAL_TYPES = ['identity', 'group', 'all_authenticated_users', 'anonymous'] as const;
export const AccessPrincipalType = Type.Union(ACCESS_PRINCIPAL_TYPES.map((t) => Type.Literal(t)));
export type AccessPrincipalType = Static<typeof AccessPrincipalType>;

export const AccessPermissions = Type.Union([Type.Literal('r'), Type.Literal('rw')]);
export type AccessPermissions = Static<typeof AccessPermissions>;

/** Roles that carry an implicit `rw` on a guest collection's `/` (globus-api.md §3). */
export const SHARING_MANAGER_ROLES = ['administrator', 'access_manager'] as const;

export const SharingRule = Type.Object({
  id: Uuid,
  principalType: AccessPrincipalType,
  /** An identity or group id; '' for all_authenticated_users and anonymous. */
  principal: Type.String({ maxLength: 64 }),
  /** Directory relative to the collection's root, as control stored it ('/', '/data/'); the agent canonicalises it. */
  path: Type.String({ minLength: 1, maxLength: 4096 }),
  permissions: AccessPermissions,
  /** Epoch milliseconds after which the rule no longer applies; null: never. */
  expiresAt: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
}, { additionalProperties: false });
export type SharingRule = Static<typeof SharingRule>;

/** A holder of an administrator or access_manager role (implicit rw on '/'). */
export const SharingManager = Type.Object({
  principalType: Type.Union([Type.Literal('identity'), Type.Literal('group')]),
  principal: Uuid,
}, { additionalProperties: false });
export type SharingManager = Static<typeof SharingManager>;

export const GuestCollection = Type.Object({
  /** The guest collection's endpoint id (what REST callers name). */
  id: Uuid,
  /** Directory on the hosting endpoint, as an API path of that endpoint ('/~/shared/', '/data/proj/'). */
  hostPath: Type.String({ minLength: 1, maxLength: 4096 }),
  /** The identity that created it: its account has an implicit rw on '/'. */
  ownerId: Uuid,
  /** false once the collection (or its host endpoint) is deleted or disabled: every request is refused. */
  enabled: Type.Boolean(),
  managers: Type.Array(SharingManager, { maxItems: 1000 }),
  rules: Type.Array(SharingRule, { maxItems: 10_000 }),
}, { additionalProperties: false });
export type GuestCollection = Static<typeof GuestCollection>;

export const SharingSnapshotMessage = Type.Object({
  type: Type.Literal('sharing.snapshot'),
  id: Id,
  version: Type.Integer({ minimum: 0 }),
  collections: Type.Array(GuestCollection, { maxItems: 1000 }),
}, { additionalProperties: false });
export type SharingSnapshotMessage = Static<typeof SharingSnapshotMessage>;

export const SharingUpdateMessage = Type.Object({
  type: Type.Literal('sharing.update'),
  id: Id,
  /** The version this update applies to; the agent refuses it (Sharing.VersionGap) if it holds another. */
  baseVersion: Type.Integer({ minimum: 0 }),
  version: Type.Integer({ minimum: 1 }),
  /** Collections to add or replace, whole (with all their rules). */
  collections: Type.Array(GuestCollection, { maxItems: 1000 }),
  /** Collections that no longer exist on this endpoint. */
  removed: Type.Array(Uuid, { maxItems: 1000 }),
}, { additionalProperties: false });
export type SharingUpdateMessage = Static<typeof SharingUpdateMessage>;

/** The agent's reply to a snapshot or update: the version it now holds. */
export const SharingAck = Type.Object({ version: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
export type SharingAck = Static<typeof SharingAck>;
