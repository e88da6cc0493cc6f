import { Type, type Static } from '@sinclair/typebox';

/** Globus `file` document (globus-api.md §1.1), produced by the agent and passed through by control. */
export const FileType = Type.Union([
  Type.Literal('dir'), Type.Literal('file'), Type.Literal('invalid_symlink'), Type.Literal('chr'),
  Type.Literal('blk'), Type.Literal('pipe'), Type.Literal('other'),
]);
export type FileType = Static<typeof FileType>;

const NullableString = Type.Union([Type.String({ maxLength: 4096 }), Type.Null()]);
const NullableInt = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

export const FileDoc = Type.Object({
  DATA_TYPE: Type.Literal('file'),
  name: Type.String({ minLength: 1, maxLength: 255 * 4 }),
  type: FileType,
  link_target: NullableString,
  size: Type.Integer({ minimum: 0 }),
  /** `YYYY-MM-DD HH:MM:SS+00:00`, with a space, as Globus sends it. */
  last_modified: Type.String({ maxLength: 64 }),
  permissions: Type.String({ pattern: '^[0-7]{4}$' }),
  user: NullableString,
  group: NullableString,
  link_size: NullableInt,
  link_user: NullableString,
  link_group: NullableString,
  link_last_modified: NullableString,
}, { additionalProperties: false });
export type FileDoc = Static<typeof FileDoc>;
