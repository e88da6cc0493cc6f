import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { isFerryError } from '../../common/errors.js';
import { isUuid } from '../../common/ids.js';
import type { ApiClient } from '../api-client.js';
import { defaultClientDeps, withClient, type ClientCommandDeps } from '../client-config.js';
import { formatJson, formatOption, formatResult, type OutputFormat } from '../output.js';
import { createProgressDisplay, type TerminalStream } from '../progress.js';
import { MAX_TASK_LIST_LIMIT, TaskClient, type SubmissionResult } from '../task-client.js';
import { formatEventList, formatFailure, formatSubmitted, formatTask, formatTaskList, formatTaskSummary, lastErrorEvent, submittedNote } from '../task-output.js';
import { exitCodeForOutcome, realClock, waitForTask, WAIT_DEFAULTS, type Clock, type WaitResult } from '../task-wait.js';

/** `ferry task show | list | cancel | events | wait` (globus-api.md §1.3), and the wait/submit steps `transfer` and `rm` share. */

export const EXAMPLE_TASK_ID = '9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';

/** What the task commands need beyond a client; tests pass a virtual clock and capture the exit code. */
export interface TaskCommandDeps extends ClientCommandDeps {
  /** The terminal for the live progress bar, or undefined (stdout is not a TTY) for plain lines. */
  terminal(): TerminalStream | undefined;
  clock: Clock;
  /** Set the process exit status without throwing (a failed task is not a CLI error). */
  setExitCode(code: number): void;
  /** Read by `transfer --batch -`. */
  stdin: NodeJS.ReadableStream;
}

export const defaultTaskDeps: TaskCommandDeps = {
  ...defaultClientDeps,
  terminal: () => (process.stdout.isTTY ? process.stdout : undefined),
  clock: realClock,
  setExitCode: (code) => { process.exitCode = code; },
  stdin: process.stdin,
};

/** Submission retries: the same submission id is re-sent, so a retry never makes a second task. */
export const SUBMIT_RETRY = { attempts: 3, delayMs: 1000 };

export function taskIdArg(): Argument {
  return new Argument('<TASK_ID>', 'the task\'s UUID, as printed by `ferry transfer` or `ferry task list`').argParser((value: string) => {
    if (!isUuid(value)) throw new InvalidArgumentError(`'${value}' is not a task ID (a UUID such as ${EXAMPLE_TASK_ID})`);
    return value.toLowerCase();
  });
}

/** A parser for a number of seconds in [min, max]; returns milliseconds. */
export function secondsParser(name: string, min: number, max = 366 * 86_400): (value: string) => number {
  return (value: string) => {
    const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number of seconds from ${min} to ${max}, got '${value}'`);
    return Math.round(n * 1000);
  };
}

export function intParser(name: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

/** The options `task wait`, `transfer --wait` and `rm --wait` share. */
export function addWaitOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--timeout <SECONDS>', `stop waiting after this long and exit with ${exitCodeForOutcome('timed-out')} (the task keeps running)`)
      .argParser(secondsParser('--timeout', 0)))
    .addOption(new Option('--polling-interval <SECONDS>', 'how often to ask control for the task\'s state')
      .argParser(secondsParser('--polling-interval', 0.5, 3600)).default(WAIT_DEFAULTS.pollingIntervalMs, '1'));
}

export interface WaitCliOptions { timeout?: number; pollingInterval: number; format: OutputFormat }

export const WAIT_HELP =
  `Exit status: 0 when the task SUCCEEDED, 1 when it FAILED (the fatal error and the last error\n` +
  `event go to stderr), ${exitCodeForOutcome('timed-out')} when --timeout passed first (the task is still running).\n` +
  'On a terminal a live bar shows bytes, rate, ETA and files; otherwise one line per poll.\n' +
  'Ctrl-C stops waiting, not the task; use `ferry task cancel` for that.';

/** Wait for a task with the user's options, print the outcome and set the exit status. */
export async function runWait(deps: TaskCommandDeps, client: ApiClient, taskId: string, opts: WaitCliOptions): Promise<void> {
  const tasks = new TaskClient(client);
  const display = opts.format === 'json' ? undefined : createProgressDisplay(deps.terminal(), deps.io.out);
  let result: WaitResult;
  try {
    result = await waitForTask(tasks, taskId, { timeoutMs: opts.timeout, pollingIntervalMs: opts.pollingInterval, clock: deps.clock, display });
  } finally {
    display?.finish();
  }
  const { task, outcome } = result;
  deps.io.out(opts.format === 'json' ? formatJson(task) : outcome === 'timed-out' ? '' : formatTaskSummary(task));
  if (outcome === 'failed') {
    // The events say why; failing to fetch them must not hide the failure itself.
    const events = await tasks.events(taskId, { filter: 'is_error:1', limit: 100 }).catch((err: unknown) => {
      if (isFerryError(err)) return undefined;
      throw err;
    });
    deps.io.err(formatFailure(task, events && lastErrorEvent(events)));
  } else if (outcome === 'timed-out') {
    const secs = (opts.timeout ?? 0) / 1000;
    deps.io.err(`ferry: stopped waiting after ${secs}s; task ${taskId} is still ${task.status} and keeps running ` +
      `(wait again with: ferry task wait ${taskId})\n`);
  }
  deps.setExitCode(exitCodeForOutcome(outcome));
}

/** Run `fn` until it succeeds, retrying errors that say retry (control restarting, a cut connection). */
async function withRetry<T>(deps: TaskCommandDeps, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isFerryError(err) || err.action !== 'retry' || attempt >= SUBMIT_RETRY.attempts) throw err;
      deps.io.err(`ferry: ${what} failed (${err.message}); retrying (attempt ${attempt + 1} of ${SUBMIT_RETRY.attempts})\n`);
      await deps.clock.sleep(SUBMIT_RETRY.delayMs * attempt);
    }
  }
}

export interface SubmitCliOptions extends WaitCliOptions { wait?: boolean; submissionId?: string }

/**
 * Get a submission id (unless the user gave one), submit, print the task id, and wait if asked.
 * The submission is retried with the same id, so a lost answer cannot create a second task.
 */
export async function submitAndReport(
  deps: TaskCommandDeps, kind: 'transfer' | 'delete', opts: SubmitCliOptions,
  submit: (tasks: TaskClient, submissionId: string) => Promise<SubmissionResult>,
): Promise<void> {
  await withClient(deps, async (client) => {
    const tasks = new TaskClient(client);
    const submissionId = opts.submissionId ?? await withRetry(deps, 'getting a submission id', () => tasks.submissionId());
    const result = await withRetry(deps, `submitting the ${kind}`, () => submit(tasks, submissionId));
    if (opts.format === 'json') {
      // With --wait, the final task document (it carries task_id) is the one JSON answer;
      // the note keeps the task id visible should the wait itself fail.
      if (opts.wait) deps.io.err(submittedNote(result, kind));
      else deps.io.out(formatJson(result));
    } else {
      deps.io.out(formatSubmitted(result));
      deps.io.err(submittedNote(result, kind));
    }
    if (opts.wait) await runWait(deps, client, result.task_id, opts);
  });
}

export const TASK_STATUSES = ['ACTIVE', 'INACTIVE', 'SUCCEEDED', 'FAILED'] as const;
export const TASK_TYPES = ['TRANSFER', 'DELETE'] as const;

function statusListParser(value: string): string[] {
  const list = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = list.filter((s) => !(TASK_STATUSES as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0) throw new InvalidArgumentError(`--status takes a comma list of ${TASK_STATUSES.join(', ')}`);
  return list;
}

export function registerTaskCommands(program: Command, given: Partial<TaskCommandDeps> = {}): void {
  const deps: TaskCommandDeps = { ...defaultTaskDeps, ...given };
  const { io } = deps;
  const task = program.command('task').description('follow, list and cancel transfer and delete tasks');

  task.command('show')
    .description('show one task: status, endpoints, files, bytes, rate, errors')
    .addArgument(taskIdArg())
    .addOption(formatOption())
    .addHelpText('after', `\nExample:\n  $ ferry task show ${EXAMPLE_TASK_ID}\n`)
    .action(async (id: string, opts: { format: OutputFormat }) => {
      const doc = await withClient(deps, (c) => new TaskClient(c).get(id));
      io.out(opts.format === 'json' ? formatJson(doc) : formatTask(doc));
    });

  task.command('list')
    .description('list your recent tasks, newest first')
    .addOption(new Option('--limit <N>', 'how many tasks to show').argParser(intParser('--limit', 1, MAX_TASK_LIST_LIMIT)).default(25))
    .addOption(new Option('--status <LIST>', `only tasks in these states (comma list of ${TASK_STATUSES.join(', ')})`).argParser(statusListParser))
    .addOption(new Option('--type <TYPE>', 'only transfer or delete tasks').choices(TASK_TYPES))
    .addOption(formatOption())
    .addHelpText('after', '\nExamples:\n  $ ferry task list\n  $ ferry task list --status ACTIVE,INACTIVE\n  $ ferry task list --type DELETE --limit 100\n')
    .action(async (opts: { limit: number; status?: string[]; type?: string; format: OutputFormat }) => {
      const clauses = [opts.status ? `status:${opts.status.join(',')}` : '', opts.type ? `type:${opts.type}` : ''].filter(Boolean);
      const list = await withClient(deps, (c) => new TaskClient(c).list({
        limit: opts.limit, orderby: 'request_time DESC', ...(clauses.length > 0 ? { filter: clauses.join('/') } : {}),
      }));
      io.out(opts.format === 'json' ? formatJson(list) : formatTaskList(list));
    });

  task.command('cancel')
    .description('cancel a running task (files already copied stay where they are)')
    .addArgument(taskIdArg())
    .addOption(formatOption())
    .addHelpText('after', `\nExample:\n  $ ferry task cancel ${EXAMPLE_TASK_ID}\n`)
    .action(async (id: string, opts: { format: OutputFormat }) => {
      const result = await withClient(deps, (c) => new TaskClient(c).cancel(id));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });

  task.command('events')
    .description('show a task\'s events (progress, retries, errors), newest first')
    .addArgument(taskIdArg())
    .addOption(new Option('--limit <N>', 'how many events to show').argParser(intParser('--limit', 1, MAX_TASK_LIST_LIMIT)).default(25))
    .option('--errors', 'only error events')
    .addOption(formatOption())
    .addHelpText('after', `\nExamples:\n  $ ferry task events ${EXAMPLE_TASK_ID}\n  $ ferry task events --errors ${EXAMPLE_TASK_ID}\n`)
    .action(async (id: string, opts: { limit: number; errors?: boolean; format: OutputFormat }) => {
      const list = await withClient(deps, (c) => new TaskClient(c).events(id, { limit: opts.limit, ...(opts.errors ? { filter: 'is_error:1' } : {}) }));
      io.out(opts.format === 'json' ? formatJson(list) : formatEventList(list));
    });

  addWaitOptions(task.command('wait')
    .description('wait for a task to finish, showing its progress')
    .addArgument(taskIdArg()))
    .addOption(formatOption())
    .addHelpText('after', `\n${WAIT_HELP}\n\nExamples:\n  $ ferry task wait ${EXAMPLE_TASK_ID}\n` +
      `  $ ferry task wait --timeout 600 --polling-interval 10 ${EXAMPLE_TASK_ID} || echo "not done: $?"\n`)
    .action(async (id: string, opts: WaitCliOptions) => {
      await withClient(deps, (c) => runWait(deps, c, id, opts));
    });
}
