/**
 * Every timeout, backoff and limit of task orchestration, as named defaults that the service
 * (or a test) can override (STYLE §11).
 */
export interface TaskLimits {
  /** How often deadlines, retries and stalls are checked. */
  tickMs: number;
  /** A task without a deadline gets this one (Globus: 24 h after submission). */
  defaultDeadlineMs: number;
  /** First retry delay after a transient failure; doubles per consecutive failure. */
  retryBaseMs: number;
  /** The backoff never waits longer than this. */
  retryMaxMs: number;
  /** 0..1: each delay is shortened by up to this fraction at random, so retries spread out. */
  retryJitter: number;
  /** How long an agent may take to answer session.open. */
  sessionOpenTimeoutMs: number;
  /** How long an agent may take to answer session.cancel. */
  sessionCancelTimeoutMs: number;
  /** A session that sends no notice for this long is abandoned and retried (like globus-url-copy -stall-timeout). */
  stallTimeoutMs: number;
  /** How long one delete item may run on the agent. */
  deleteTimeoutMs: number;
  /** Successful transfers per page (marker paging). */
  successfulTransfersPage: number;
  /**
   * How many times in a row (without progress in between) a task retries an unexpected error
   * (catalog `bounded` codes: InternalError, a peer's protocol error, a refused data
   * connection) before it fails; other retryable errors are retried until the deadline.
   */
  unexpectedErrorRetries: number;
}

export const DEFAULT_TASK_LIMITS: Readonly<TaskLimits> = Object.freeze({
  tickMs: 1000,
  defaultDeadlineMs: 24 * 3600_000,
  retryBaseMs: 2000,
  retryMaxMs: 5 * 60_000,
  retryJitter: 0.2,
  sessionOpenTimeoutMs: 30_000,
  sessionCancelTimeoutMs: 10_000,
  stallTimeoutMs: 10 * 60_000,
  deleteTimeoutMs: 30 * 60_000,
  successfulTransfersPage: 1000,
  unexpectedErrorRetries: 3,
});

/** Delay before attempt `failures + 1`: capped exponential backoff with optional jitter. */
export function backoffMs(failures: number, limits: Pick<TaskLimits, 'retryBaseMs' | 'retryMaxMs' | 'retryJitter'>, random: () => number = Math.random): number {
  const exp = Math.min(limits.retryMaxMs, limits.retryBaseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp * (1 - limits.retryJitter * random()));
}
