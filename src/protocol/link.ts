import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { FileDoc } from './file-doc.js';
import { Principals } from './principals.js';
import { SharingSnapshotMessage, SharingUpdateMessage } from './sharing.js';
import { LINK_MAGIC, MAX_LS_ENTRIES } from './limits.js';
import {
  SessionCancelMessage, TaskCleanupMessage, SessionDoneMessage, SessionEventMessage, SessionFilesMessage, SessionOpenMessage,
  SessionProgressMessage,
} from './session.js';

/**
 * Messages of the control <-> agent link (JSON over WSS), each declared once here; both ends
 * validate every message they receive against these schemas. Requests carry `id`, replies
 * carry `re` naming the request they answer.
 */

const Id = Type.String({ minLength: 1, maxLength: 64 });
const Uuid = Type.String({ format: 'uuid' });
/** Paths as the API user wrote them; the agent's policy decides what they mean. */
const ApiPath = Type.String({ minLength: 1, maxLength: 8192 });

export const WireError = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 128 }),
  message: Type.String({ maxLength: 4096 }),
}, { additionalProperties: false });
export type WireError = Static<typeof WireError>;

export { Principals } from './principals.js';

// ---- agent -> control ----------------------------------------------------------------

export const RootInfo = Type.Object({
  path: Type.String({ minLength: 1, maxLength: 4096 }),
  writable: Type.Boolean(),
  sharing: Type.Boolean(),
}, { additionalProperties: false });
export type RootInfo = Static<typeof RootInfo>;

/**
 * Hello capability 'congestion:NAME': the congestion control an agent's data streams send with.
 * Control offers spare streams to a source whose algorithm backs off on every loss.
 */
export const CONGESTION_CAPABILITY_PREFIX = 'congestion:';

/** The congestion control a hello's capabilities name, if any. */
export function congestionOf(capabilities: readonly string[] | undefined): string | undefined {
  return capabilities?.find((c) => c.startsWith(CONGESTION_CAPABILITY_PREFIX))?.slice(CONGESTION_CAPABILITY_PREFIX.length);
}

/** Whether a congestion control backs off on every loss, so that more streams carry more on a lossy path (bbr does not). */
export function isLossBased(name: string | null | undefined): boolean {
  return name !== null && name !== undefined && name !== '' && name !== 'bbr' && name !== 'bbr2';
}

export const HelloMessage = Type.Object({
  type: Type.Literal('hello'),
  id: Id,
  magic: Type.Literal(LINK_MAGIC),
  version: Type.Integer({ minimum: 1 }),
  nodeId: Uuid,
  endpointId: Uuid,
  agentVersion: Type.String({ maxLength: 64 }),
  capabilities: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 }),
  /** host:port pairs where peers can reach this agent's data port, empty when not reachable. */
  dataAddresses: Type.Array(Type.String({ maxLength: 300 }), { maxItems: 16 }),
  roots: Type.Array(RootInfo, { maxItems: 256 }),
}, { additionalProperties: false });
export type HelloMessage = Static<typeof HelloMessage>;

/**
 * What a config reload (SIGHUP) changed of the hello: control replaces the hello's capabilities
 * and roots with these, so later tasks see the agent as it now is (force-encryption, the
 * congestion control of its streams, its roots) without the link, and the sessions on it, going down.
 */
export const HelloUpdateMessage = Type.Object({
  type: Type.Literal('hello.update'),
  capabilities: HelloMessage.properties.capabilities,
  roots: HelloMessage.properties.roots,
}, { additionalProperties: false });
export type HelloUpdateMessage = Static<typeof HelloUpdateMessage>;

export const HeartbeatMessage = Type.Object({
  type: Type.Literal('heartbeat'),
  time: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;

// ---- replies (both directions) --------------------------------------------------------

export const ReplyOk = Type.Object({
  type: Type.Literal('reply'),
  re: Id,
  ok: Type.Literal(true),
  result: Type.Unknown(),
}, { additionalProperties: false });

export const ReplyErr = Type.Object({
  type: Type.Literal('reply'),
  re: Id,
  ok: Type.Literal(false),
  error: WireError,
}, { additionalProperties: false });

export const ReplyMessage = Type.Union([ReplyOk, ReplyErr]);
export type ReplyMessage = Static<typeof ReplyMessage>;

/** Unsolicited notice that a received message was refused (bad schema, bad JSON). */
export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  re: Type.Optional(Id),
  error: WireError,
}, { additionalProperties: false });
export type ErrorMessage = Static<typeof ErrorMessage>;

// ---- control -> agent: file operations ------------------------------------------------

export const LsArgs = Type.Object({ path: ApiPath, showHidden: Type.Boolean() }, { additionalProperties: false });
export const StatArgs = Type.Object({ path: ApiPath }, { additionalProperties: false });
export const MkdirArgs = Type.Object({ path: ApiPath }, { additionalProperties: false });
export const RenameArgs = Type.Object({ oldPath: ApiPath, newPath: ApiPath }, { additionalProperties: false });
export const DeleteArgs = Type.Object({
  path: ApiPath,
  recursive: Type.Boolean(),
  ignoreMissing: Type.Boolean(),
}, { additionalProperties: false });
export const DeleteResult = Type.Object({
  files: Type.Integer({ minimum: 0 }),
  directories: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
export type DeleteResult = Static<typeof DeleteResult>;

export const LsResult = Type.Object({
  /** The path as the API shows it, ending in '/' (e.g. '/~/' or '/home/u/data/'). */
  path: Type.String({ maxLength: 8192 }),
  entries: Type.Array(FileDoc, { maxItems: MAX_LS_ENTRIES }),
}, { additionalProperties: false });
export type LsResult = Static<typeof LsResult>;
export const StatResult = FileDoc;
export const EmptyResult = Type.Object({}, { additionalProperties: false });

/** Each file operation: its argument and result schemas. */
export const FILE_OPS = {
  ls: { args: LsArgs, result: LsResult },
  stat: { args: StatArgs, result: StatResult },
  mkdir: { args: MkdirArgs, result: EmptyResult },
  rename: { args: RenameArgs, result: EmptyResult },
  delete: { args: DeleteArgs, result: DeleteResult },
} as const satisfies Record<string, { args: TSchema; result: TSchema }>;

export type FileOpName = keyof typeof FILE_OPS;
export type FileOpArgs<K extends FileOpName> = Static<(typeof FILE_OPS)[K]['args']>;
export type FileOpResult<K extends FileOpName> = Static<(typeof FILE_OPS)[K]['result']>;

function opRequest<K extends FileOpName, A extends TSchema>(op: K, args: A) {
  return Type.Object({
    type: Type.Literal('op'),
    id: Id,
    /** The agent's own endpoint, or a guest collection hosted on it (then the agent's replica of its rules decides). */
    endpointId: Uuid,
    principals: Principals,
    op: Type.Literal(op),
    args,
  }, { additionalProperties: false });
}

// Declared one by one (not mapped over FILE_OPS) so the derived type ties each op to its args.
export const OpRequest = Type.Union([
  opRequest('ls', LsArgs), opRequest('stat', StatArgs), opRequest('mkdir', MkdirArgs), opRequest('rename', RenameArgs),
  opRequest('delete', DeleteArgs),
]);
export type OpRequest = Static<typeof OpRequest>;

/** Control's answer to hello: accepted, with what control knows of the node. */
export const HelloResult = Type.Object({
  controlVersion: Type.String({ maxLength: 64 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 100 }),
}, { additionalProperties: false });
export type HelloResult = Static<typeof HelloResult>;

// ---- what each side may receive ---------------------------------------------------------

export const AgentToControl = Type.Union([
  HelloMessage, HelloUpdateMessage, HeartbeatMessage, ReplyOk, ReplyErr, ErrorMessage,
  SessionProgressMessage, SessionFilesMessage, SessionEventMessage, SessionDoneMessage,
]);
export type AgentToControl = Static<typeof AgentToControl>;

export const ControlToAgent = Type.Union([OpRequest, SharingSnapshotMessage, SharingUpdateMessage, SessionOpenMessage, SessionCancelMessage, TaskCleanupMessage, ReplyOk, ReplyErr, ErrorMessage]);
export type ControlToAgent = Static<typeof ControlToAgent>;
