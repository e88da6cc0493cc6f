import { FerryError } from '../../common/errors.js';

/**
 * Per-identity limits (Globus has the same kind: a few active tasks per user, at most 100
 * pending, a request rate). They keep one user from starving the others: four parallel `ls`
 * of 100,000 entries each cost the agent about a gigabyte. Overridden by control's config
 * (`limits.*`).
 */
export interface UserLimits {
  /** File operations (ls, stat, mkdir, rename) one identity may have in flight on one endpoint. */
  fileOpsPerEndpoint: number;
  /** File operations one identity may have in flight on all endpoints together. */
  fileOpsPerUser: number;
  /** Active (ACTIVE or INACTIVE) tasks one account (its linked identities together) may have; Globus allows 100 pending tasks. */
  activeTasksPerUser: number;
}

export const DEFAULT_USER_LIMITS: Readonly<UserLimits> = Object.freeze({
  fileOpsPerEndpoint: 4,
  fileOpsPerUser: 16,
  activeTasksPerUser: 100,
});

/** Seconds a client refused by the operation limit is asked to wait (Retry-After). */
export const OPS_RETRY_AFTER_SECONDS = 1;

/**
 * Counts each identity's file operations in flight, per endpoint and in all. acquire() either
 * takes a slot and returns its release, or refuses at once with 429 ClientError.TooManyRequests
 * (no queue: a queue would hold the requests' memory just the same).
 */
export class OperationLimiter {
  private readonly perUser = new Map<string, { total: number; byEndpoint: Map<string, number> }>();

  constructor(private readonly limits: Pick<UserLimits, 'fileOpsPerEndpoint' | 'fileOpsPerUser'>) {}

  acquire(identityId: string, endpointId: string): () => void {
    let u = this.perUser.get(identityId);
    const onEndpoint = u?.byEndpoint.get(endpointId) ?? 0;
    if (onEndpoint >= this.limits.fileOpsPerEndpoint) {
      throw tooMany(`You already have ${onEndpoint} file operations in flight on this endpoint (the limit is ${this.limits.fileOpsPerEndpoint}); retry when one has finished`);
    }
    if ((u?.total ?? 0) >= this.limits.fileOpsPerUser) {
      throw tooMany(`You already have ${u!.total} file operations in flight (the limit is ${this.limits.fileOpsPerUser}); retry when one has finished`);
    }
    if (!u) this.perUser.set(identityId, (u = { total: 0, byEndpoint: new Map() }));
    u.total++;
    u.byEndpoint.set(endpointId, onEndpoint + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(identityId, endpointId);
    };
  }

  /** Operations in flight for an identity (all endpoints), for tests and metrics. */
  inFlight(identityId: string): number {
    return this.perUser.get(identityId)?.total ?? 0;
  }

  private release(identityId: string, endpointId: string): void {
    const u = this.perUser.get(identityId);
    if (!u) return;
    u.total--;
    const n = (u.byEndpoint.get(endpointId) ?? 1) - 1;
    if (n <= 0) u.byEndpoint.delete(endpointId);
    else u.byEndpoint.set(endpointId, n);
    if (u.total <= 0) this.perUser.delete(identityId);
  }
}

function tooMany(message: string): FerryError {
  return new FerryError('ClientError.TooManyRequests', message, { details: { retryAfterSeconds: OPS_RETRY_AFTER_SECONDS } });
}

/** The error a task submission gets when its owner already has `limit` active tasks. */
export function tooManyPendingJobs(active: number, limit: number): FerryError {
  return new FerryError('ClientError.Conflict.TooManyPendingJobs', `You already have ${active} active tasks (the limit is ${limit}); wait for some to finish or cancel them`);
}
