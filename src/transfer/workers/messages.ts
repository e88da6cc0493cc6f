import type { FileRef } from '../../fs/file-ref.js';
import type { ChecksumAlgorithm } from '../../protocol/session.js';
import type { FileIdentity } from '../../fs/index.js';

/**
 * The messages between an IoPool (io-pool.ts) and its worker threads (io-worker.ts): one
 * table of every op, its request and its reply, from which both sides take their types, so a
 * field renamed on one side does not compile on the other.
 *
 * A request carries `id` when it wants a reply; the reply is `{id, ...reply}` or
 * `{id, error: {code, message}}`. open and drop are never answered; update is answered only
 * when it has an id (bytes in a SharedArrayBuffer, acknowledged once hashed in place).
 * Per-file failures inside a batch are not errors: they are `{errno, message}` entries of its
 * results (FileFailure).
 */

/** One file's failure inside a batch: an errno code (ENOENT...; ECHANGED: its size changed). */
export interface FileFailure {
  errno: string;
  message: string;
}

export interface StatResult {
  kind?: 'file' | 'dir' | 'symlink' | 'other';
  size?: number;
  mtimeMs?: number;
  mode?: number;
  /** Identity, for the directory checks of the destination. */
  dev?: bigint;
  ino?: bigint;
  /** Set when lstat failed (errno code such as ENOENT). */
  errno?: string;
  message?: string;
}

/** A file read by `read`: where its bytes start in the reply's buffer, and their checksum. */
export type ReadWireResult = { offset: number; checksum: string } | FileFailure;

export type ReadIntoResult = { checksum: string } | FileFailure;

/** A file to commit as sent to the worker: its bytes, if any, are in the request's `data`. */
export interface CommitWireFile {
  /** The directory holding both names (held open by the caller until the reply). */
  dirFd: number;
  /** Names in that directory: the partial file and the name it is renamed to. */
  partial: string;
  final: string;
  /** For a partial written by the session: its device and inode, checked when the worker opens it. */
  identity?: FileIdentity;
  /** Where the file's bytes start in `data`; absent when the partial file is already written. */
  dataOffset?: number;
  dataLength?: number;
  mode: number;
  /** null: leave the mtime as written. */
  mtimeMs: number | null;
  /** Re-read and compare with `expected` before committing. */
  verify: ChecksumAlgorithm | null;
  expected: string;
}

export interface CommitResult {
  ok?: boolean;
  mismatch?: string;
  errno?: string;
  message?: string;
}

/** A commit group's outcome: per file, the directories' flush, and how many files the group's syncfs made durable (durable-commit.ts). */
export interface CommitReply {
  results: CommitResult[];
  dirError: CommitResult | null;
  synced: number;
}

/** Every op: its request (without op and id) and its reply (without id); `reply: never`: none. */
export interface IoOps {
  open: { request: { stream: number; algorithm: ChecksumAlgorithm }; reply: never };
  /** `data`: a plain Uint8Array (a Buffer is cloned as a host object, much slower to post). */
  update: { request: { stream: number; data: Uint8Array; id?: number }; reply: Record<string, never> };
  /** Feed bytes [offset, offset+length) of a file to the stream; `direct`: bytes read with O_DIRECT. */
  updateFile: { request: { id: number; stream: number; path: FileRef; offset: number; length: number; direct: boolean }; reply: { direct: number } };
  digest: { request: { id: number; stream: number }; reply: { checksum: string } };
  drop: { request: { stream: number }; reply: never };
  /** Run a full collection of the worker's isolate (shared-drops.ts says why). */
  collect: { request: Record<string, never>; reply: never };
  file: { request: { id: number; path: FileRef; algorithm: ChecksumAlgorithm }; reply: { checksum: string; bytes: number } };
  lstat: { request: { id: number; paths: readonly FileRef[] }; reply: { stats: StatResult[] } };
  /** `buffer` (transferred) holds the files' bytes, each at its result's offset. */
  read: { request: { id: number; files: ReadonlyArray<{ path: FileRef; size: number }>; algorithm: ChecksumAlgorithm }; reply: { results: ReadWireResult[]; buffer: ArrayBuffer } };
  /** `at`: where each file goes in `target`, from the start of the SharedArrayBuffer. */
  readInto: { request: { id: number; files: ReadonlyArray<{ path: FileRef; size: number; at: number }>; target: SharedArrayBuffer; algorithm: ChecksumAlgorithm }; reply: { results: ReadIntoResult[] } };
  /** `data`: the small files' bytes (a SharedArrayBuffer from the pool, or an ArrayBuffer), or null. */
  commit: { request: { id: number; files: readonly CommitWireFile[]; durable: boolean; data: SharedArrayBuffer | ArrayBuffer | null }; reply: CommitReply };
}

export type IoOp = keyof IoOps;

/** The request of one op, as posted. */
export type IoRequestOf<O extends IoOp> = { op: O } & IoOps[O]['request'];

/** Every request the worker takes: a union discriminated by `op`. */
export type IoRequest = { [O in IoOp]: IoRequestOf<O> }[IoOp];

/** The ops that are answered. */
export type AnsweredOp = { [O in IoOp]: IoOps[O]['reply'] extends never ? never : O }[IoOp];

export type IoReplyOf<O extends AnsweredOp> = IoOps[O]['reply'];

/** How a request failed as a whole (an errno code, or EIO). */
export interface IoError {
  code: string;
  message: string;
}

/** A reply as posted back: the op's reply, or an error. */
export type IoReplyMessage = { id: number } & ({ [O in AnsweredOp]: IoReplyOf<O> & { error?: undefined } }[AnsweredOp] | { error: IoError });

/** An answered request as the pool hands it to a worker (before it gets its id). */
export type IoCall<O extends AnsweredOp> = Omit<IoRequestOf<O>, 'id'>;

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return code ? (code as string) : 'EIO';
}

function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return String(message || err);
}

/** A request's failure as replied. */
export function ioError(err: unknown): IoError {
  return { code: codeOf(err), message: messageOf(err) };
}

/** One file's failure inside a batch. */
export function fileFailure(err: unknown): FileFailure {
  return { errno: codeOf(err), message: messageOf(err) };
}
