import type { FerryError } from '../common/errors.js';

/**
 * Exit codes the CLI and daemons use (sysexits.h where one fits). The systemd units know 78:
 * a bad config is not restarted in a loop.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** The remote side refused or failed the request (HTTP 4xx/5xx). */
  remote: 3,
  /** `ferry task wait --timeout` ran out while the task is still running (like timeout(1)). */
  timedOut: 124,
  /** EX_UNAVAILABLE: control or the endpoint is unreachable. */
  unavailable: 69,
  /** EX_CONFIG: bad configuration. */
  config: 78,
} as const;

export function exitCodeFor(err: FerryError): number {
  if (err.code.startsWith('Config.')) return EXIT.config;
  if (err.code === 'ServiceUnavailable' || err.code === 'ExternalError.GCDisconnected') return EXIT.unavailable;
  return EXIT.remote;
}
