import { Type, type Static } from '@sinclair/typebox';

/**
 * REST request bodies and queries, declared once. Globus clients send many optional fields;
 * documents allow unknown keys (ignored) but every field we read is typed. DATA_TYPE may be
 * absent (the JS SDK omits it on some calls) but when present must be right.
 */
const Str = (max: number) => Type.Union([Type.String({ maxLength: max }), Type.Null()]);
const dataType = (name: string) => Type.Optional(Type.Literal(name));
const ApiPath = Type.String({ minLength: 1, maxLength: 8192 });

/** The describing fields of an endpoint, a guest collection's too (sharing-schemas.ts). */
export const describingFields = {
  description: Type.Optional(Str(4096)),
  organization: Type.Optional(Str(1024)),
  department: Type.Optional(Str(1024)),
  keywords: Type.Optional(Str(1024)),
  contact_email: Type.Optional(Str(1024)),
  contact_info: Type.Optional(Str(4096)),
  info_link: Type.Optional(Str(1024)),
};

/** Endpoint fields a client may set, shared by create and update. */
const endpointFields = {
  DATA_TYPE: dataType('endpoint'),
  ...describingFields,
  default_directory: Type.Optional(Str(4096)),
  public: Type.Optional(Type.Boolean()),
  /** Globus: every transfer to or from the endpoint is encrypted, whatever the task's encrypt_data. */
  force_encryption: Type.Optional(Type.Boolean()),
};
const DisplayName = Type.String({ minLength: 1, maxLength: 128 });

export const EndpointCreateBody = Type.Object({
  ...endpointFields,
  display_name: DisplayName,
  is_globus_connect: Type.Optional(Type.Boolean()),
});
export type EndpointCreateBody = Static<typeof EndpointCreateBody>;

export const EndpointUpdateBody = Type.Object({
  ...endpointFields,
  display_name: Type.Optional(DisplayName),
});
export type EndpointUpdateBody = Static<typeof EndpointUpdateBody>;

export const MkdirBody = Type.Object({
  DATA_TYPE: dataType('mkdir'),
  path: ApiPath,
  local_user: Type.Optional(Type.String({ maxLength: 256 })),
});
export type MkdirBody = Static<typeof MkdirBody>;

export const RenameBody = Type.Object({
  DATA_TYPE: dataType('rename'),
  old_path: ApiPath,
  new_path: ApiPath,
  local_user: Type.Optional(Type.String({ maxLength: 256 })),
});
export type RenameBody = Static<typeof RenameBody>;

export const ENDPOINT_SEARCH_SCOPES = [
  'all', 'my-endpoints', 'my-gcp-endpoints', 'recently-used', 'in-use', 'shared-by-me',
  'shared-with-me', 'hide-no-permissions', 'administered-by-me',
] as const;
