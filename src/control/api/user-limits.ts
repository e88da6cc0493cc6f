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
  /**
   * Changes to guest collections' access rules and roles one identity may make per minute:
   * each change is published to the host's agents, so a loop of changes would keep them busy.
   */
  sharingChangesPerMinute: number;
  /** Access-rule notification e-mails (notify_email) one identity may have sent per hour. */
  notificationsPerHour: number;
}

export const DEFAULT_USER_LIMITS: Readonly<UserLimits> = Object.freeze({
  fileOpsPerEndpoint: 4,
  fileOpsPerUser: 16,
  activeTasksPerUser: 100,
  sharingChangesPerMinute: 120,
  notificationsPerHour: 20,
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

function tooMany(message: string, retryAfterSeconds = OPS_RETRY_AFTER_SECONDS): FerryError {
  return new FerryError('ClientError.TooManyRequests', message, { details: { retryAfterSeconds } });
}

/**
 * At most `max` events per identity in each fixed window of `windowMs` (a count and the
 * window's start per identity; identities idle for a window are forgotten). Hand-written: the
 * rate-limit plugin keys requests before they are authenticated, and these limits are per
 * identity and per kind of change, counted inside the handler.
 */
export class WindowLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly max: number, private readonly windowMs: number, private readonly what: string) {}

  /** Count one event for `identityId`, or refuse with 429 ClientError.TooManyRequests (Retry-After: the window's end). */
  take(identityId: string, now = Date.now()): void {
    if (this.windows.size > 10_000) this.forgetIdle(now);
    let w = this.windows.get(identityId);
    if (!w || now - w.start >= this.windowMs) this.windows.set(identityId, (w = { start: now, count: 0 }));
    if (w.count >= this.max) {
      const wait = Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
      throw tooMany(`You made ${w.count} ${this.what} in the last ${Math.round(this.windowMs / 1000)} s (the limit is ${this.max}); retry in ${wait} s`, wait);
    }
    w.count++;
  }

  private forgetIdle(now: number): void {
    for (const [id, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(id);
  }
}

/** The error a task submission gets when its owner already has `limit` active tasks. */
export function tooManyPendingJobs(active: number, limit: number): FerryError {
  return new FerryError('ClientError.Conflict.TooManyPendingJobs', `You already have ${active} active tasks (the limit is ${limit}); wait for some to finish or cancel them`);
}

/** The limits on changes to sharing, shared by the access-rule and role routes. */
export interface SharingLimiters {
  changes: WindowLimiter;
  notifications: WindowLimiter;
}

export function sharingLimiters(limits: Pick<UserLimits, 'sharingChangesPerMinute' | 'notificationsPerHour'>): SharingLimiters {
  return {
    changes: new WindowLimiter(limits.sharingChangesPerMinute, 60_000, 'changes to access rules and roles'),
    notifications: new WindowLimiter(limits.notificationsPerHour, 3_600_000, 'access notifications by e-mail'),
  };
}
