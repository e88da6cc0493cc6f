import { isFerryError } from '../common/errors.js';
import { safeText } from './output.js';
import { RateTracker, snapshotOf, type ProgressDisplay } from './progress.js';
import { isTaskDone, type TaskClient, type TaskDocument } from './task-client.js';

/**
 * Poll a task until it ends or a timeout passes (globus-api.md §6 items 7 and 8: a blocking
 * wait whose "timed out, still running" result differs from "failed"). Time comes from a
 * Clock so tests run with virtual time instead of sleeping.
 */

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => { setTimeout(resolve, ms); }),
};

export const WAIT_DEFAULTS = {
  pollingIntervalMs: 1000,
  /** Polls in a row that may fail with a retryable error (control restarting) before giving up. */
  maxConsecutiveErrors: 5,
};

/** Exit statuses of `task wait` (and of `transfer`/`rm` with --wait). 124 is what timeout(1) uses. */
export const WAIT_EXIT = { succeeded: 0, failed: 1, timedOut: 124 } as const;

export type WaitOutcome = 'succeeded' | 'failed' | 'timed-out';

export interface WaitResult {
  outcome: WaitOutcome;
  /** The last task document seen. */
  task: TaskDocument;
}

export interface WaitOptions {
  /** Give up waiting (the task keeps running) after this long; undefined waits for ever. */
  timeoutMs?: number | undefined;
  pollingIntervalMs?: number;
  maxConsecutiveErrors?: number;
  clock?: Clock;
  display?: ProgressDisplay;
}

/**
 * Wait for a task to reach SUCCEEDED or FAILED. Non-retryable errors (unknown task, bad token)
 * throw at once; retryable ones throw after `maxConsecutiveErrors` polls in a row.
 */
export async function waitForTask(tasks: TaskClient, taskId: string, opts: WaitOptions = {}): Promise<WaitResult> {
  const clock = opts.clock ?? realClock;
  const interval = opts.pollingIntervalMs ?? WAIT_DEFAULTS.pollingIntervalMs;
  const maxErrors = opts.maxConsecutiveErrors ?? WAIT_DEFAULTS.maxConsecutiveErrors;
  const deadline = opts.timeoutMs === undefined ? Infinity : clock.now() + opts.timeoutMs;
  const rates = new RateTracker();
  let last: TaskDocument | undefined;
  let errors = 0;
  let lastError: unknown;

  for (;;) {
    try {
      const task = await tasks.get(taskId);
      errors = 0;
      last = task;
      rates.add(typeof task.bytes_transferred === 'number' ? task.bytes_transferred : 0, clock.now());
      opts.display?.update(snapshotOf(task, rates.rate()));
      if (isTaskDone(task)) return { outcome: task.status === 'SUCCEEDED' ? 'succeeded' : 'failed', task };
    } catch (err) {
      // Control restarting or a network blip should not end a wait of hours; anything else should.
      errors++;
      if (!isFerryError(err) || err.action !== 'retry' || errors >= maxErrors) throw err;
      lastError = err;
      if (last !== undefined) opts.display?.update(snapshotOf(last, rates.rate(), `cannot poll control (${safeText(err.message)}); retrying`));
    }
    const now = clock.now();
    if (now >= deadline) {
      // Not one answer before the deadline: the task's state is unknown, so report why.
      if (last === undefined) throw lastError;
      return { outcome: 'timed-out', task: last };
    }
    // The last poll lands on the deadline itself, so `--timeout 0` still checks once.
    await clock.sleep(Math.min(interval, deadline - now));
  }
}

export function exitCodeForOutcome(outcome: WaitOutcome): number {
  return outcome === 'succeeded' ? WAIT_EXIT.succeeded : outcome === 'failed' ? WAIT_EXIT.failed : WAIT_EXIT.timedOut;
}
