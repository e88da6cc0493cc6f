import { Type, type Static } from '@sinclair/typebox';
import { SessionStats } from './session.js';

/**
 * Transfer-session frames on the agent <-> agent data channel (framing in frames.ts:
 * [u32 BE length][u8 type][payload], session types 0x10 and up).
 *
 * The destination drives (DESIGN.md "Transfer sessions"): the source walks its items and
 * announces entries in MANIFEST frames, never more than the destination's window allows; the
 * destination decides per file and REQUESTs byte ranges; the source answers on the data
 * streams (CHUNK frames, or tar BATCHes for small whole files) and says FILE_DONE with the
 * whole-file checksum when it read the whole file. The destination RETIREs entries it is done
 * with (which also returns window credit) and says END when everything is durable.
 * Range requests are general on purpose: restart markers and delta (later protocol additions)
 * ask for ranges the same way.
 *
 * Streams: control frames (0x10-0x1f) travel on stream 0; data frames (0x20-0x2f) on the data
 * streams 1..N (on stream 0 too when a session has no other stream). The three frames of one
 * batch always travel on one stream, in order.
 * Clear-text sessions (encrypt_data false): stream 0 stays TLS; on the plain-TCP data streams
 * every frame ends with a 16-byte AES-256-GMAC tag, counted in its length (wire/frame-auth.ts).
 */
export const SessionFrameType = {
  /** D->S, first frame of the session: the initial manifest window. */
  START: 0x10,
  /** S->D: announced entries, indexes consecutive from 0. */
  MANIFEST: 0x11,
  /** S->D: the walk is over. */
  MANIFEST_END: 0x12,
  /** D->S: entries the destination is done with; returns as much window. */
  RETIRE: 0x13,
  /** D->S: send these byte ranges of these files. */
  REQUEST: 0x14,
  /** D->S: compute these files' checksums (sync level 3). */
  SUM_REQUEST: 0x15,
  /** S->D: one file's checksum. */
  SUM: 0x16,
  /** S->D: every range of one REQUEST for this file is on its way. */
  FILE_DONE: 0x17,
  /** S->D: the source could not read a file and skips it (skip_source_errors). */
  FILE_ERROR: 0x18,
  /** D->S: everything is durable; final stats. */
  END: 0x19,
  /** Either way: the session failed; both sides stop. */
  ERROR: 0x1a,
  /** D->S, on resume: checksum these blocks of a file (the ranges a partial file already holds). */
  BLOCK_SUM_REQUEST: 0x1b,
  /** S->D: the requested blocks' checksums, in order. */
  BLOCK_SUMS: 0x1c,
  /** S->D: a file changed while it was read (size or mtime): the destination drops it from this attempt and the task retries it. */
  FILE_CHANGED: 0x1d,
  /** S->D binary: [u32 file index][u32 offset high][u32 offset low][u32 crc32][data]. */
  CHUNK: 0x20,
  /** S->D: a tar batch of small whole files follows on this stream. */
  BATCH_BEGIN: 0x21,
  /** S->D binary: [u32 batch id][u32 offset in the batch's tar bytes][u32 crc32][tar bytes]. */
  BATCH_DATA: 0x22,
  /** S->D: the batch's tar bytes are complete. */
  BATCH_END: 0x23,
} as const;
export type SessionFrameType = (typeof SessionFrameType)[keyof typeof SessionFrameType];

export const CHUNK_HEADER_BYTES = 16;
export const BATCH_DATA_HEADER_BYTES = 12;

/** Per-frame list limits (a frame stays well below MAX_FRAME_PAYLOAD). */
export const MAX_MANIFEST_ENTRIES = 4096;
export const MAX_REQUEST_FILES = 4096;
export const MAX_REQUEST_RANGES = 1024;
export const MAX_RETIRE_INDEXES = 8192;
export const MAX_BATCH_FILES = 4096;
/** Most file bytes one tar batch may carry (the destination buffers a batch whole). */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;

const Index = Type.Integer({ minimum: 0, maximum: 0xffff_ffff });
const Size = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Relative path inside an item: '' for the item itself, else '/'-joined names (checked in code). */
const RelPath = Type.String({ maxLength: 4096 });
const Mode = Type.Integer({ minimum: 0, maximum: 0o7777 });
const Checksum = Type.String({ pattern: '^[0-9a-f]{16,128}$' });
/** The source errors skip_source_errors may skip (Globus event codes). */
/** Source failures that skip_source_errors may skip (INVALID_PATH_NAME: a name that is not UTF-8). */
export const SkippableCode = Type.Union([Type.Literal('FILE_NOT_FOUND'), Type.Literal('PERMISSION_DENIED'), Type.Literal('INVALID_PATH_NAME')]);
export type SkippableCode = Static<typeof SkippableCode>;

const Common = { i: Index, item: Index, path: RelPath };

export const ManifestFile = Type.Object({
  ...Common,
  kind: Type.Literal('file'),
  size: Size,
  mtimeMs: Type.Number({ minimum: -1e15, maximum: 1e15 }),
  mode: Mode,
}, { additionalProperties: false });
export type ManifestFile = Static<typeof ManifestFile>;

export const ManifestDir = Type.Object({
  ...Common,
  kind: Type.Literal('dir'),
  mode: Mode,
  /** The source directory's mtime: with preserve_timestamp the destination sets it once the session has filled the directory. */
  mtimeMs: Type.Optional(Type.Number({ minimum: -1e15, maximum: 1e15 })),
}, { additionalProperties: false });
export type ManifestDir = Static<typeof ManifestDir>;

/**
 * Every child of directory `path` has been announced. `skipped` says the directory could not
 * be listed (skip_source_errors): it has no children here and its destination keeps its extras.
 */
export const ManifestDirEnd = Type.Object({
  ...Common,
  kind: Type.Literal('dirEnd'),
  skipped: Type.Union([SkippableCode, Type.Null()]),
}, { additionalProperties: false });
export type ManifestDirEnd = Static<typeof ManifestDirEnd>;

/** A source path the source skipped (skip_source_errors); the destination leaves it alone. */
export const ManifestError = Type.Object({
  ...Common,
  kind: Type.Literal('error'),
  code: SkippableCode,
  isDirectory: Type.Boolean(),
}, { additionalProperties: false });
export type ManifestError = Static<typeof ManifestError>;

export const ManifestEntry = Type.Union([ManifestFile, ManifestDir, ManifestDirEnd, ManifestError]);
export type ManifestEntry = Static<typeof ManifestEntry>;

export const StartFrame = Type.Object({ window: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false });
export type StartFrame = Static<typeof StartFrame>;

export const ManifestFrame = Type.Object({
  entries: Type.Array(ManifestEntry, { minItems: 1, maxItems: MAX_MANIFEST_ENTRIES }),
}, { additionalProperties: false });
export type ManifestFrame = Static<typeof ManifestFrame>;

export const ManifestEndFrame = Type.Object({
  /** Entries announced in all; the destination checks it saw exactly these. */
  entries: Size,
  /** Symlinks met while walking (not followed, not sent). */
  symlinks: Size,
}, { additionalProperties: false });
export type ManifestEndFrame = Static<typeof ManifestEndFrame>;

export const RetireFrame = Type.Object({
  indexes: Type.Array(Index, { minItems: 1, maxItems: MAX_RETIRE_INDEXES }),
}, { additionalProperties: false });
export type RetireFrame = Static<typeof RetireFrame>;

export const ByteRange = Type.Object({ offset: Size, length: Size }, { additionalProperties: false });
export type ByteRange = Static<typeof ByteRange>;

export const RequestFrame = Type.Object({
  files: Type.Array(Type.Object({
    i: Index,
    ranges: Type.Array(ByteRange, { minItems: 1, maxItems: MAX_REQUEST_RANGES }),
  }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_REQUEST_FILES }),
}, { additionalProperties: false });
export type RequestFrame = Static<typeof RequestFrame>;

export const SumRequestFrame = Type.Object({
  files: Type.Array(Index, { minItems: 1, maxItems: MAX_REQUEST_FILES }),
}, { additionalProperties: false });
export type SumRequestFrame = Static<typeof SumRequestFrame>;

export const SumFrame = Type.Object({ i: Index, checksum: Checksum }, { additionalProperties: false });
export type SumFrame = Static<typeof SumFrame>;

export const FileDoneFrame = Type.Object({
  i: Index,
  /** Whole-file checksum, present when this request made the source read the whole file. */
  checksum: Type.Union([Checksum, Type.Null()]),
}, { additionalProperties: false });
export type FileDoneFrame = Static<typeof FileDoneFrame>;

export const FileErrorFrame = Type.Object({
  i: Index,
  code: SkippableCode,
  message: Type.String({ maxLength: 1024 }),
}, { additionalProperties: false });
export type FileErrorFrame = Static<typeof FileErrorFrame>;

export const EndFrame = Type.Object({ stats: SessionStats }, { additionalProperties: false });
export type EndFrame = Static<typeof EndFrame>;

export const ErrorFrame = Type.Object({
  /** Ferry error code (catalog), rebuilt on the other side. */
  code: Type.String({ minLength: 1, maxLength: 128 }),
  message: Type.String({ maxLength: 4096 }),
  /** Globus event code for the task's fatal_error / event list. */
  eventCode: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Z_]+$' }),
}, { additionalProperties: false });
export type ErrorFrame = Static<typeof ErrorFrame>;

/** Most blocks one BLOCK_SUM_REQUEST may name (the destination picks a block size that fits). */
export const MAX_SUM_BLOCKS = 4096;

/**
 * Blocks to checksum: each range is cut into `block`-byte pieces (the last one shorter), in
 * order; the reply carries one sha256 per piece. Resuming destinations use it to check what a
 * partial file kept across a crash against the source before keeping it.
 */
export const BlockSumRequestFrame = Type.Object({
  i: Index,
  block: Type.Integer({ minimum: 4096, maximum: Number.MAX_SAFE_INTEGER }),
  ranges: Type.Array(ByteRange, { minItems: 1, maxItems: MAX_REQUEST_RANGES }),
}, { additionalProperties: false });
export type BlockSumRequestFrame = Static<typeof BlockSumRequestFrame>;

export const BlockSumsFrame = Type.Object({
  i: Index,
  sums: Type.Array(Type.String({ pattern: '^([0-9a-f]{64})?$' }), { maxItems: MAX_SUM_BLOCKS }),
}, { additionalProperties: false });
export type BlockSumsFrame = Static<typeof BlockSumsFrame>;

export const FileChangedFrame = Type.Object({
  i: Index,
  size: Size,
  mtimeMs: Type.Number({ minimum: -1e15, maximum: 1e15 }),
}, { additionalProperties: false });
export type FileChangedFrame = Static<typeof FileChangedFrame>;

export const BatchBeginFrame = Type.Object({
  batch: Index,
  /** Entries in tar order; sizes come from the manifest. */
  files: Type.Array(Type.Object({ i: Index, checksum: Checksum }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_BATCH_FILES }),
}, { additionalProperties: false });
export type BatchBeginFrame = Static<typeof BatchBeginFrame>;

export const BatchEndFrame = Type.Object({ batch: Index }, { additionalProperties: false });
export type BatchEndFrame = Static<typeof BatchEndFrame>;
