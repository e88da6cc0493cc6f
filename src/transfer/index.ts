/**
 * Transfer session engine (DESIGN.md "Transfer sessions"): runs the source or destination side
 * of one agent-to-agent session over streams the channel layer has already authenticated.
 * The lead wires it to the link (session.open / session.cancel) and to the channel.
 */
export { runSession } from './session/run.js';
export { isAgentStopping } from './session/guard.js';
export { eventCodeOf } from './errors.js';
export type { PathResolver, SessionReporter, SessionInit } from './session/types.js';
export type { StreamGrowthInit } from './session/stream-growth.js';
export { DEFAULT_TUNING, resolveTuning, type TransferTuning } from './tuning.js';
export { collectWorkerGarbage, IoPool, sharedIoPool } from './workers/io-pool.js';
export { fullCollection } from './util/full-collection.js';
