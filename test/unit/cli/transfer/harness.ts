import { Readable } from 'node:stream';
import { Command } from 'commander';
import { ApiClient } from '../../../../src/cli/api-client.js';
import { registerRmCommand } from '../../../../src/cli/commands/rm.js';
import { registerTaskCommands, type TaskCommandDeps } from '../../../../src/cli/commands/task.js';
import { registerTransferCommand } from '../../../../src/cli/commands/transfer.js';
import type { TerminalStream } from '../../../../src/cli/progress.js';
import type { Clock } from '../../../../src/cli/task-wait.js';
import type { FakeControl, TestPki } from '../tls-fixture.js';

/** Virtual time: sleep() returns at once and moves the clock, so waits and timeouts need no real delay. */
export interface VirtualClock extends Clock { sleeps: number[] }

export function virtualClock(start = Date.UTC(2024, 0, 2, 3, 4, 5)): VirtualClock {
  let t = start;
  const clock: VirtualClock = {
    sleeps: [],
    now: () => t,
    sleep: async (ms) => { clock.sleeps.push(ms); t += ms; },
  };
  return clock;
}

export interface Run { out: string; err: string; error: unknown; exitCode: number | undefined; clock: VirtualClock }

export interface RunOptions { stdin?: string; terminal?: TerminalStream }

/** Runs `ferry ARGS` with the transfer, rm and task commands against the fake control. */
export async function runFerry(control: FakeControl, pki: TestPki, args: string[], opts: RunOptions = {}): Promise<Run> {
  const clock = virtualClock();
  const run: Run = { out: '', err: '', error: undefined, exitCode: undefined, clock };
  const program = new Command().name('ferry').exitOverride()
    .configureOutput({ writeOut: (s) => { run.out += s; }, writeErr: (s) => { run.err += s; } });
  const deps: Partial<TaskCommandDeps> = {
    connect: () => new ApiClient({ url: control.url, token: 'tok', ca: pki.caPem }),
    io: { out: (s: string) => { run.out += s; }, err: (s: string) => { run.err += s; } },
    clock,
    setExitCode: (code) => { run.exitCode = code; },
    terminal: () => opts.terminal,
    stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
  };
  registerTransferCommand(program, deps);
  registerRmCommand(program, deps);
  registerTaskCommands(program, deps);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    run.error = err;
  }
  return run;
}

export const SRC = '6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const DST = '11111111-2222-4333-8444-555555555555';
export const TASK = '9b1c2d3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
export const SUBMISSION = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

/** A task document with Globus fields; `over` replaces any of them. */
export function taskDoc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    DATA_TYPE: 'task', task_id: TASK, type: 'TRANSFER', status: 'ACTIVE', label: 'run 7', nice_status: 'OK',
    request_time: '2024-01-02T03:04:05+00:00', completion_time: null, deadline: '2024-01-03T03:04:05+00:00',
    source_endpoint_id: SRC, source_endpoint_display_name: 'lab', destination_endpoint_id: DST, destination_endpoint_display_name: 'hpc',
    files: 40, directories: 2, files_transferred: 0, files_skipped: 0, bytes_transferred: 0, bytes_checksummed: 0,
    effective_bytes_per_second: 0, faults: 0, sync_level: null, verify_checksum: true, fatal_error: null, ...over,
  };
}
