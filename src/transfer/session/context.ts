import type { SessionSpec } from '../../protocol/session.js';
import type { Checksummer } from '../checksum/index.js';
import type { RestartMarkers } from '../markers/store.js';
import type { TransferTuning } from '../tuning.js';
import type { FrameStream } from '../wire/frame-stream.js';
import type { IoPool } from '../workers/io-pool.js';
import type { SessionGuard } from './guard.js';
import type { StreamGrowthInit } from './stream-growth.js';
import type { PathResolver, SessionReporter } from './types.js';

/** What both roles share while a session runs. */
export interface SessionContext {
  spec: SessionSpec;
  tuning: TransferTuning;
  resolver: PathResolver;
  reporter: SessionReporter;
  guard: SessionGuard;
  checksummer: Checksummer;
  /** Worker threads for batched file-system work. */
  fs: IoPool;
  /** Stream 0. */
  control: FrameStream;
  /** Streams 1..N, or [control] when the session has a single stream. */
  data: FrameStream[];
  /** Destination's restart markers, or null (no resume). */
  markers: RestartMarkers | null;
  /** Source: how spare streams go to work (SessionInit.growth), or null. */
  growth: StreamGrowthInit | null;
}
