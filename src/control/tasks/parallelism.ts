import { congestionOf, isLossBased } from '../../protocol/link.js';
import type { TransferTaskOptions } from '../store/tasks.js';

/** The protocol's limit on data streams per session (src/protocol/session.ts). */
export const MAX_PARALLELISM = 16;

/**
 * How many data streams a task's session connects, when more than it starts with: spare streams
 * the source puts to work while the running ones are loss-limited (src/transfer/session/
 * stream-growth.ts). Only for a task whose submitter left parallelism to Ferry (neither
 * `parallelism` nor `perf_p`: a number asked for is kept), and only when the source agent sends
 * with a loss-based congestion control (its hello says 'congestion:NAME'): bbr keeps a lossy
 * path full with few streams, and an agent that does not say cannot grow. Undefined: none.
 */
export function spareStreamLimit(options: Pick<TransferTaskOptions, 'session' | 'adaptiveParallelism'>, sourceCapabilities: readonly string[] | undefined): number | undefined {
  if (options.adaptiveParallelism !== true) return undefined;
  if (!isLossBased(congestionOf(sourceCapabilities))) return undefined;
  return options.session.parallelism < MAX_PARALLELISM ? MAX_PARALLELISM : undefined;
}
