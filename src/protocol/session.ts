import { Type, type Static } from '@sinclair/typebox';
import { Principals } from './principals.js';

/**
 * Transfer sessions on the control <-> agent link (DESIGN.md "Transfer sessions"). Control
 * opens a session on both agents (the listening side first, whose reply carries the address
 * the other side dials); agents report progress, finished files, events and the outcome.
 */

const Uuid = Type.String({ format: 'uuid' });
const Id = Type.String({ minLength: 1, maxLength: 64 });
const ApiPath = Type.String({ minLength: 1, maxLength: 8192 });

export const CHECKSUM_ALGORITHMS = ['sha256', 'md5', 'xxh128'] as const;
export const ChecksumAlgorithm = Type.Union(CHECKSUM_ALGORITHMS.map((a) => Type.Literal(a)));
export type ChecksumAlgorithm = Static<typeof ChecksumAlgorithm>;

export const TransferOptions = Type.Object({
  /** null: always copy; 0 exists, 1 size, 2 mtime (source newer), 3 checksum (Globus numbering). */
  syncLevel: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2), Type.Literal(3), Type.Null()]),
  verifyChecksum: Type.Boolean(),
  preserveTimestamp: Type.Boolean(),
  deleteDestinationExtra: Type.Boolean(),
  skipSourceErrors: Type.Boolean(),
  failOnQuotaErrors: Type.Boolean(),
  checksumAlgorithm: ChecksumAlgorithm,
  /** Data streams per session. */
  parallelism: Type.Integer({ minimum: 1, maximum: 16 }),
}, { additionalProperties: false });
export type TransferOptions = Static<typeof TransferOptions>;

export const TransferItem = Type.Object({
  sourcePath: ApiPath,
  destinationPath: ApiPath,
  /** null: detect from the source (Globus auto-detect when `recursive` is omitted). */
  recursive: Type.Union([Type.Boolean(), Type.Null()]),
}, { additionalProperties: false });
export type TransferItem = Static<typeof TransferItem>;

/**
 * A Globus filter rule (globus-api.md §1.2): a glob matched against the base name of each entry
 * found while recursing; the first matching rule decides, no match means include.
 */
export const FilterRule = Type.Object({
  method: Type.Union([Type.Literal('include'), Type.Literal('exclude')]),
  name: Type.String({ minLength: 1, maxLength: 1024 }),
  /** Absent: the rule applies to files and directories. */
  type: Type.Optional(Type.Union([Type.Literal('file'), Type.Literal('dir')])),
}, { additionalProperties: false });
export type FilterRule = Static<typeof FilterRule>;

export const SessionRole = Type.Union([Type.Literal('source'), Type.Literal('destination')]);
export type SessionRole = Static<typeof SessionRole>;

export const SessionSpec = Type.Object({
  sessionId: Uuid,
  taskId: Uuid,
  role: SessionRole,
  peer: Type.Object({
    nodeId: Uuid,
    /** host:port to dial; null on the listening side. */
    address: Type.Union([Type.String({ minLength: 3, maxLength: 300 }), Type.Null()]),
  }, { additionalProperties: false }),
  /** This side listens for the peer's data connections (else it dials peer.address). */
  listen: Type.Boolean(),
  /** One-time secret the dialing side proves it knows (base64url). */
  secret: Type.String({ minLength: 32, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
  items: Type.Array(TransferItem, { minItems: 1, maxItems: 100_000 }),
  options: TransferOptions,
  /**
   * This side is a guest collection hosted on the agent's endpoint: item paths are relative to
   * the collection, and the agent decides every path (each file, during recursion too) from its
   * replica of the collection's rules and these principals of the task's submitter.
   */
  guest: Type.Optional(Type.Object({ collectionId: Uuid, principals: Principals }, { additionalProperties: false })),
  /**
   * false: the data streams run in clear text, each frame with a keyed MAC (the control stream
   * stays on mutual TLS). Absent or true: every stream is TLS. Sent only when false, so agents
   * that predate it still take encrypted sessions.
   */
  encryptData: Type.Optional(Type.Boolean()),
  /**
   * Data streams to connect when more than options.parallelism: the source starts with
   * options.parallelism of them and puts the spare ones to work while the running ones are
   * loss-limited (src/transfer/session/stream-growth.ts). Sent only when larger, like encryptData.
   */
  maxParallelism: Type.Optional(Type.Integer({ minimum: 2, maximum: 16 })),
  /** Filter rules, in order; absent when the task has none (the source skips what they exclude, the destination keeps excluded extras). */
  filterRules: Type.Optional(Type.Array(FilterRule, { minItems: 1, maxItems: 1000 })),
}, { additionalProperties: false });
export type SessionSpec = Static<typeof SessionSpec>;

export const SessionOpenMessage = Type.Object({
  type: Type.Literal('session.open'),
  id: Id,
  session: SessionSpec,
}, { additionalProperties: false });
export type SessionOpenMessage = Static<typeof SessionOpenMessage>;

/** Reply result of session.open: the listening side says where to dial it. */
export const SessionOpenResult = Type.Object({
  address: Type.Union([Type.String({ minLength: 3, maxLength: 300 }), Type.Null()]),
}, { additionalProperties: false });
export type SessionOpenResult = Static<typeof SessionOpenResult>;

export const SessionCancelMessage = Type.Object({
  type: Type.Literal('session.cancel'),
  id: Id,
  sessionId: Uuid,
  /**
   * true: only this attempt ends (the task will retry): the destination keeps its partial
   * files and restart markers. Absent or false: the task is over; partials are removed.
   */
  keepPartials: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type SessionCancelMessage = Static<typeof SessionCancelMessage>;

/** The task ended (succeeded, failed, canceled, expired): remove what its attempts left (partials, restart markers). */
export const TaskCleanupMessage = Type.Object({
  type: Type.Literal('task.cleanup'),
  id: Id,
  taskId: Uuid,
}, { additionalProperties: false });
export type TaskCleanupMessage = Static<typeof TaskCleanupMessage>;

/** Cumulative counters for one session, reported by the destination (Globus task fields). */
export const SessionStats = Type.Object({
  files: Type.Integer({ minimum: 0 }),
  directories: Type.Integer({ minimum: 0 }),
  symlinks: Type.Integer({ minimum: 0 }),
  filesTransferred: Type.Integer({ minimum: 0 }),
  filesSkipped: Type.Integer({ minimum: 0 }),
  bytesTransferred: Type.Integer({ minimum: 0 }),
  bytesChecksummed: Type.Integer({ minimum: 0 }),
  bytesExpected: Type.Integer({ minimum: 0 }),
  faults: Type.Integer({ minimum: 0 }),
  /** Data streams that carried file data (the task document's `parallelism`); absent before any did. */
  streams: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
}, { additionalProperties: false });
export type SessionStats = Static<typeof SessionStats>;

export const SessionProgressMessage = Type.Object({
  type: Type.Literal('session.progress'),
  sessionId: Uuid,
  stats: SessionStats,
}, { additionalProperties: false });
export type SessionProgressMessage = Static<typeof SessionProgressMessage>;

export const FinishedFile = Type.Object({
  sourcePath: ApiPath,
  destinationPath: ApiPath,
  size: Type.Integer({ minimum: 0 }),
  checksum: Type.String({ maxLength: 256 }),
  checksumAlgorithm: ChecksumAlgorithm,
}, { additionalProperties: false });
export type FinishedFile = Static<typeof FinishedFile>;

/** Files the destination has made durable at their final paths (Globus successful_transfers). */
export const SessionFilesMessage = Type.Object({
  type: Type.Literal('session.files'),
  sessionId: Uuid,
  files: Type.Array(FinishedFile, { maxItems: 10_000 }),
}, { additionalProperties: false });
export type SessionFilesMessage = Static<typeof SessionFilesMessage>;

/** A Globus task event (globus-api.md §2.5): code such as VERIFY_CHECKSUM, FILE_NOT_FOUND. */
export const SessionEvent = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Z_]+$' }),
  isError: Type.Boolean(),
  description: Type.String({ maxLength: 256 }),
  details: Type.String({ maxLength: 8192 }),
}, { additionalProperties: false });
export type SessionEvent = Static<typeof SessionEvent>;

export const SessionEventMessage = Type.Object({
  type: Type.Literal('session.event'),
  sessionId: Uuid,
  event: SessionEvent,
}, { additionalProperties: false });
export type SessionEventMessage = Static<typeof SessionEventMessage>;

export const SessionDoneMessage = Type.Object({
  type: Type.Literal('session.done'),
  sessionId: Uuid,
  role: SessionRole,
  ok: Type.Boolean(),
  /**
   * Why it failed: `code` is a Globus event code (FILE_NOT_FOUND, PERMISSION_DENIED, CANCELED,
   * ...); `ferryCode` the Ferry error code (src/common/errors.ts), from which control decides
   * whether the task retries or fails (agents before it sent only `code`).
   */
  error: Type.Union([Type.Object({
    code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 4096 }), ferryCode: Type.Optional(Type.String({ maxLength: 64 })),
  }, { additionalProperties: false }), Type.Null()]),
  stats: SessionStats,
}, { additionalProperties: false });
export type SessionDoneMessage = Static<typeof SessionDoneMessage>;
