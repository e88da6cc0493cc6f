import type { StreamGrowthInit } from './stream-growth.js';
import type { Dir } from '../../fs/index.js';
import type { Duplex } from 'node:stream';
import type { FinishedFile, SessionEvent, SessionSpec, SessionStats } from '../../protocol/session.js';
import type { RestartMarkers } from '../markers/store.js';
import type { TransferTuning } from '../tuning.js';
import type { FrameMacKeys } from './clear-macs.js';
import type { FileIdentity } from '../../fs/index.js';

/** How the engine maps API paths to host paths; the agent passes its PathPolicy (same shape). */
export interface PathResolver {
  /** `realRoot`: where the path's root really is (links resolved). */
  resolve(apiPath: string, intent: 'read' | 'write', options?: { followFinal?: boolean }): Promise<{ hostPath: string; apiPath: string; realRoot: string }>;
  /**
   * The agent's policy for one path, without touching the disk: throws (EndpointPermissionDenied)
   * for a write into a read-only root, nested or not; `isRoot` and `nestedRoots` tell whether
   * removing it would remove a root.
   */
  lexical(apiPath: string, intent: 'read' | 'write'): { isRoot: boolean; nestedRoots: readonly unknown[] };
  /** The root whose directory this is, by device and inode, or null. */
  rootOfDir(dir: FileIdentity): { writable: boolean } | null;
  /**
   * Open `apiPath` as a directory to write into, creating it and missing parents with
   * `createMode`, by a walk that follows no link; refused in a read-only root.
   */
  openWriteDir(apiPath: string, createMode: number): Dir;
  /**
   * Guest collections only: whether the requester may still read (source) or write
   * (destination) this path, asked again before each file is read or committed so that access
   * revoked mid-session stops the next file. Throws EndpointPermissionDenied.
   */
  checkRead?(apiPath: string): void;
  checkWrite?(apiPath: string): void;
  /**
   * Guest collections only: taken before a commit's checkWrite, released once its files are
   * durable and reported (or failed). The agent acknowledges a rule change to control only when
   * no write allowed by older rules is held, so no file lands after the ack under a withdrawn rule.
   */
  holdWrites?(): () => void;
  /**
   * Guest collections only: whether the source's walk may enter a directory it found (a root
   * of the endpoint nested in the collection is not part of it, and is left out).
   */
  mayEnter?(dir: FileIdentity): boolean;
}

export interface SessionReporter {
  /** Destination: at least once a second while running, and at the end. */
  progress(stats: SessionStats): void;
  /** Destination: batches, only after the files are durable at their final paths. */
  filesDone(files: FinishedFile[]): void;
  /** Either side: Globus event codes (VERIFY_CHECKSUM, FILE_NOT_FOUND, PERMISSION_DENIED, ...). */
  event(e: SessionEvent): void;
}

export interface SessionInit {
  /** spec.role says which side this is. */
  spec: SessionSpec;
  /**
   * Authenticated sockets: streams[0] is the control stream, streams[1..] the data streams
   * (spec.options.parallelism of them; with a single stream, data shares stream 0). The
   * session owns them: they are ended (or destroyed, on failure) when it settles.
   */
  streams: Duplex[];
  /**
   * encrypt_data false: per stream index, the frame-MAC keys of a clear-text stream
   * (channel/clear-keys.ts), null for a TLS stream. Absent: every stream is TLS.
   */
  frameKeys?: ReadonlyArray<FrameMacKeys | null>;
  /**
   * Source: streams beyond spec.options.parallelism (spec.maxParallelism) go to work when the
   * running ones are loss-limited, judged by these TCP_INFO readings (stream-growth.ts). Absent:
   * the spare streams stay idle.
   */
  growth?: StreamGrowthInit;
  resolver: PathResolver;
  reporter: SessionReporter;
  /** Cancel: stop within seconds, remove partial files, reject with Transfer.Canceled. */
  signal: AbortSignal;
  tuning?: Partial<TransferTuning>;
  /**
   * Destination: restart markers (durable ranges of partial files, files already finished by
   * this task). Without them a failed session removes its partial files and a retry starts over.
   */
  markers?: RestartMarkers;
}
