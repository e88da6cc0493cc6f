import type { NewTaskEvent, TaskPatch, TaskRecord, TaskRepo } from '../store/tasks.js';
import { describeCode, type Failure } from './failures.js';
import { backoffMs, type TaskLimits } from './limits.js';
import { foldStats, taskStats } from './stats.js';

/**
 * Every change of a task's state, each one write (task row and its events in one
 * transaction). Only ACTIVE tasks change: a late continuation after cancel or expiry is a
 * no-op, which each method reports by returning false.
 */
export class TaskTransitions {
  constructor(
    private readonly repo: TaskRepo,
    private readonly now: () => number,
    private readonly limits: TaskLimits,
    private readonly random: () => number,
    /** After a task reached SUCCEEDED or FAILED (cleanup on its agents). */
    private readonly onEnded: (id: string) => void = () => undefined,
  ) {}

  event(code: string, isError: boolean, details: string, description = describeCode(code)): NewTaskEvent {
    return { time: this.now(), code, isError, description, details };
  }

  private active(id: string): TaskRecord | undefined {
    const t = this.repo.get(id);
    return t && t.status === 'ACTIVE' ? t : undefined;
  }

  /** A session or delete run began. */
  started(id: string, details: Record<string, unknown>, patch: TaskPatch = {}): boolean {
    if (!this.active(id)) return false;
    this.repo.apply(id, { ...patch, niceStatus: 'OK', niceStatusDescription: 'OK' }, [this.event('STARTED', false, JSON.stringify(details), 'started')]);
    return true;
  }

  succeed(id: string): boolean {
    const t = this.active(id);
    if (!t) return false;
    const stats = taskStats(t);
    const details = JSON.stringify(t.type === 'TRANSFER' ? { files_succeeded: stats.filesTransferred } : { files_deleted: stats.files, directories_deleted: stats.directories });
    this.repo.apply(id, {
      ...foldStats(t), status: 'SUCCEEDED', completionTime: this.now(), niceStatus: null, niceStatusDescription: null, session: null, fatalError: null,
    }, [this.event('SUCCEEDED', false, details, 'succeeded')]);
    this.onEnded(id);
    return true;
  }

  /** End the task FAILED with fatal_error {code, description} and an error event. */
  fail(id: string, code: string, details: string, description = describeCode(code)): boolean {
    const t = this.active(id);
    if (!t) return false;
    this.repo.apply(id, {
      ...foldStats(t), status: 'FAILED', completionTime: this.now(), niceStatus: null, niceStatusDescription: null, session: null,
      fatalError: { code, description },
    }, [this.event(code, true, details, description)]);
    this.onEnded(id);
    return true;
  }

  /**
   * An attempt ended early: count a fault, record why, and set when the next attempt may
   * start (after the backoff, or at once when the task only waits for an agent). A `bounded`
   * failure after `unexpectedErrorRetries` failed attempts in a row ends the task FAILED.
   */
  retry(id: string, failure: Failure, opts: { fault: boolean; backoff: boolean }): boolean {
    const t = this.active(id);
    if (!t) return false;
    const failures = t.failures + 1;
    if (failure.bounded && failures > this.limits.unexpectedErrorRetries) {
      const n = this.limits.unexpectedErrorRetries;
      return this.fail(id, failure.code, `${failure.message} (gave up: ${n + 1} attempt${n === 0 ? '' : 's'} in a row failed without progress)`);
    }
    const retryAt = this.now() + (opts.backoff ? backoffMs(failures, this.limits, this.random) : 0);
    this.repo.apply(id, {
      ...foldStats(t, opts.fault ? 1 : 0), failures, retryAt, session: null,
      niceStatus: failure.code, niceStatusDescription: describeCode(failure.code),
    }, [this.event(failure.code, true, failure.message)]);
    return true;
  }

  /** The task cannot start yet (agent offline, nobody listens); the event is written once per change. */
  waiting(t: TaskRecord, code: string, details: string): void {
    if (t.status !== 'ACTIVE' || t.niceStatus === code) return;
    this.repo.apply(t.id, { niceStatus: code, niceStatusDescription: describeCode(code) }, [this.event(code, true, details)]);
  }
}
