import { PassThrough } from 'node:stream';
import { CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../../src/cli/api-client.js';
import type { TerminalStream } from '../../../../src/cli/progress.js';
import { makeTestPki, startFakeControl, type FakeControl, type TestPki } from '../tls-fixture.js';
import { FakeTaskControl } from './fake-task-control.js';
import { runFerry, TASK, taskDoc, type Run, type RunOptions } from './harness.js';

let pki: TestPki;
let control: FakeControl;
let fake: FakeTaskControl;

beforeAll(async () => {
  pki = makeTestPki();
  control = await startFakeControl(pki, () => { throw new Error('handler not set'); });
});
afterAll(async () => { await control.close(); });
beforeEach(() => {
  fake = new FakeTaskControl();
  control.handle = fake.handle;
});
afterEach(() => { control.requests.length = 0; });

const ferry = (args: string[], opts?: RunOptions): Promise<Run> => runFerry(control, pki, args, opts);
const MiB = 1024 * 1024;

const done = { completion_time: '2024-01-02T03:04:15+00:00' };

describe('ferry task show | list | cancel | events', () => {
  it('show prints the task, or control\'s document with --format json', async () => {
    const text = await ferry(['task', 'show', TASK.toUpperCase()]);
    expect(text.out).toContain(`Task ID:            ${TASK}\n`);
    expect(text.out).toContain('Status:             ACTIVE\n');
    expect(control.requests[0]?.url.pathname).toBe(`/v0.10/task/${TASK}`);
    const json = await ferry(['task', 'show', '--format', 'json', TASK]);
    expect(JSON.parse(json.out)).toEqual(taskDoc());
  });

  it('refuses a task id that is not a UUID before contacting control', async () => {
    for (const sub of ['show', 'cancel', 'events', 'wait']) {
      const run = await ferry(['task', sub, 'last']);
      expect(run.error).toBeInstanceOf(CommanderError);
      expect(run.err).toContain("'last' is not a task ID");
    }
    expect(control.requests).toHaveLength(0);
  });

  it('list asks for the newest tasks with the chosen filters', async () => {
    const run = await ferry(['task', 'list', '--status', 'active,inactive', '--type', 'TRANSFER', '--limit', '5']);
    expect(Object.fromEntries(control.requests[0]?.url.searchParams ?? [])).toEqual({
      limit: '5', orderby: 'request_time DESC', filter: 'status:ACTIVE,INACTIVE/type:TRANSFER',
    });
    expect(run.out.split('\n')[0]).toMatch(/^Task ID\s+Status\s+Type\s+Label\s+Bytes\s+Request Time$/);
    expect(run.out).toContain(`${TASK}  ACTIVE  TRANSFER  run 7    0 B  2024-01-02 03:04:05`);
    await ferry(['task', 'list']);
    expect(Object.fromEntries(control.requests[1]?.url.searchParams ?? [])).toEqual({ limit: '25', orderby: 'request_time DESC' });
    const bad = await ferry(['task', 'list', '--status', 'DONE']);
    expect(bad.err).toContain('--status takes a comma list of ACTIVE, INACTIVE, SUCCEEDED, FAILED');
    const big = await ferry(['task', 'list', '--limit', '1001']);
    expect(big.err).toContain('--limit must be a whole number from 1 to 1000');
    expect(control.requests).toHaveLength(2);
  });

  it('cancel prints control\'s message, also when the task had already finished', async () => {
    expect((await ferry(['task', 'cancel', TASK])).out).toBe('The task has been cancelled successfully.\n');
    expect(control.requests[0]?.method).toBe('POST');
    expect(control.requests[0]?.url.pathname).toBe(`/v0.10/task/${TASK}/cancel`);
    fake.cancelCode = 'TaskComplete';
    const late = await ferry(['task', 'cancel', TASK]);
    expect(late.out).toBe('The task completed before the cancel request was processed.\n');
    expect(late.error).toBeUndefined();
  });

  it('events lists the events, optionally only the errors', async () => {
    fake.events = [{ DATA_TYPE: 'event', code: 'STARTED', is_error: false, description: 'started', details: '{"parallelism":4}', time: '2024-01-02T03:04:06+00:00' }];
    const run = await ferry(['task', 'events', '--errors', '--limit', '10', TASK]);
    expect(Object.fromEntries(control.requests[0]?.url.searchParams ?? [])).toEqual({ limit: '10', filter: 'is_error:1' });
    expect(run.out).toContain('2024-01-02 03:04:06  STARTED  no     started: {"parallelism":4}');
  });

  it('an unknown task is control\'s error, with no exit status set by the command', async () => {
    const run = await ferry(['task', 'wait', '00000000-0000-4000-8000-000000000000']);
    expect(run.error).toBeInstanceOf(RemoteError);
    expect((run.error as RemoteError).remoteCode).toBe('ClientError.NotFound');
    expect(run.exitCode).toBeUndefined();
  });
});

describe('ferry task wait', () => {
  it('prints a line per poll and exits 0 when the task succeeds', async () => {
    fake.taskSequence = [
      taskDoc({ nice_status: 'Queued' }),
      taskDoc({ bytes_transferred: 10 * MiB, bytes_expected: 40 * MiB, files_transferred: 10 }),
      taskDoc({ bytes_transferred: 30 * MiB, bytes_expected: 40 * MiB, files_transferred: 30 }),
      taskDoc({ status: 'SUCCEEDED', nice_status: null, bytes_transferred: 40 * MiB, bytes_expected: 40 * MiB, files_transferred: 40, ...done }),
    ];
    const run = await ferry(['task', 'wait', '--polling-interval', '2', TASK]);
    expect(run.error).toBeUndefined();
    expect(run.out.split('\n')).toEqual([
      'ACTIVE (queued)  0 B  files 0/40',
      'ACTIVE  25%  10.0 MiB of 40.0 MiB  5.00 MiB/s  ETA 6s  files 10/40',
      'ACTIVE  75%  30.0 MiB of 40.0 MiB  7.50 MiB/s  ETA 1s  files 30/40',
      'SUCCEEDED  100%  40.0 MiB of 40.0 MiB  6.67 MiB/s  files 40/40',
      `Task ${TASK} SUCCEEDED: 40.0 MiB, 40 files in 10s (4.00 MiB/s)`,
      '',
    ]);
    expect(run.clock.sleeps).toEqual([2000, 2000, 2000]);
    expect(run.exitCode).toBe(0);
    expect(run.err).toBe('');
  });

  it('exits 1 when the task fails, with the fatal error and the newest error event', async () => {
    fake.taskSequence = [taskDoc(), taskDoc({ status: 'FAILED', nice_status: null, fatal_error: { code: 'CANCELED', description: 'canceled' }, ...done })];
    fake.events = [
      { DATA_TYPE: 'event', code: 'CANCELED', is_error: true, description: 'canceled', details: 'Canceled by the task owner', time: '2024-01-02T03:04:14+00:00' },
      { DATA_TYPE: 'event', code: 'CONNECT_FAILED', is_error: true, description: 'connect failed', details: 'peer unreachable', time: '2024-01-02T03:04:10+00:00' },
    ];
    const run = await ferry(['task', 'wait', TASK]);
    expect(run.exitCode).toBe(1);
    expect(run.out).toContain(`Task ${TASK} FAILED: 0 B, 40 files in 10s\n`);
    expect(run.err).toBe([
      `ferry: task ${TASK} failed: CANCELED: canceled`,
      '  last error event (2024-01-02 03:04:14): CANCELED: canceled: Canceled by the task owner',
      `  see all events with: ferry task events ${TASK}`,
      '',
    ].join('\n'));
    const eventsReq = control.requests.find((r) => r.url.pathname.endsWith('/event_list'));
    expect(eventsReq?.url.searchParams.get('filter')).toBe('is_error:1');
  });

  it('still reports the failure when the events cannot be fetched', async () => {
    fake.taskSequence = [taskDoc({ status: 'FAILED', fatal_error: { code: 'EXPIRED', description: 'deadline passed' } })];
    fake.inject({ method: 'GET', path: `/v0.10/task/${TASK}/event_list`, status: 500 });
    const run = await ferry(['task', 'wait', TASK]);
    expect(run.exitCode).toBe(1);
    expect(run.err).toContain('failed: EXPIRED: deadline passed');
  });

  it('exits 124, distinct from failure, when --timeout passes while the task still runs', async () => {
    fake.taskSequence = [taskDoc({ nice_status: 'PERMISSION_DENIED', faults: 2 })];
    const run = await ferry(['task', 'wait', '--timeout', '2.5', '--polling-interval', '1', TASK]);
    expect(run.exitCode).toBe(124);
    // Polls at 0, 1, 2 and on the deadline itself (2.5 s).
    expect(fake.polls).toBe(4);
    expect(run.clock.sleeps).toEqual([1000, 1000, 500]);
    expect(run.out).toContain('ACTIVE (retrying: PERMISSION_DENIED)  0 B  files 0/40  faults 2\n');
    expect(run.out).not.toContain('Task ');
    expect(run.err).toBe(`ferry: stopped waiting after 2.5s; task ${TASK} is still ACTIVE and keeps running (wait again with: ferry task wait ${TASK})\n`);
  });

  it('--timeout 0 checks once', async () => {
    const running = await ferry(['task', 'wait', '--timeout', '0', TASK]);
    expect(running.exitCode).toBe(124);
    expect(fake.polls).toBe(1);
    fake.taskSequence = [taskDoc({ status: 'SUCCEEDED' })];
    expect((await ferry(['task', 'wait', '--timeout', '0', TASK])).exitCode).toBe(0);
  });

  it('keeps waiting through a short control outage, and gives up on a long one', async () => {
    fake.taskSequence = [taskDoc(), taskDoc(), taskDoc({ status: 'SUCCEEDED' })];
    // The second poll is answered by nobody: control took it, the connection dropped.
    fake.inject({ method: 'GET', path: `/v0.10/task/${TASK}`, cut: true, after: 1 });
    const blip = await ferry(['task', 'wait', TASK]);
    expect(blip.exitCode).toBe(0);
    const lines = blip.out.split('\n');
    expect(lines[0]).toBe('ACTIVE  0 B  files 0/40');
    expect(lines[1]).toMatch(/^ACTIVE {2}0 B {2}files 0\/40 {2}\[cannot poll control \(cannot reach control at .*\); retrying\]$/);
    expect(lines[2]).toMatch(/^SUCCEEDED {2}100%/);

    fake.polls = 0;
    fake.taskSequence = [taskDoc()];
    for (let i = 0; i < 6; i++) fake.inject({ method: 'GET', path: `/v0.10/task/${TASK}`, status: 503, doc: { code: 'ServiceUnavailable', message: 'down' } });
    const outage = await ferry(['task', 'wait', TASK]);
    expect((outage.error as RemoteError).remoteCode).toBe('ServiceUnavailable');
    expect(outage.exitCode).toBeUndefined();
    // Five polls in a row failed (WAIT_DEFAULTS.maxConsecutiveErrors), then it gave up.
    expect(control.requests.filter((r) => r.url.pathname === `/v0.10/task/${TASK}`).length).toBe(3 + 5);
  });

  it('a first poll that fails for a moment is retried too', async () => {
    fake.taskSequence = [taskDoc({ status: 'SUCCEEDED' })];
    fake.inject({ method: 'GET', path: `/v0.10/task/${TASK}`, status: 503, doc: { code: 'ServiceUnavailable', message: 'starting' } });
    const run = await ferry(['task', 'wait', TASK]);
    expect(run.exitCode).toBe(0);
    expect(run.out.split('\n')[0]).toMatch(/^SUCCEEDED/);
    expect(run.clock.sleeps).toEqual([1000]);
  });

  it('--format json prints only the final task document', async () => {
    fake.taskSequence = [taskDoc(), taskDoc({ status: 'SUCCEEDED', ...done })];
    const run = await ferry(['task', 'wait', '--format', 'json', TASK]);
    expect(JSON.parse(run.out)).toEqual(taskDoc({ status: 'SUCCEEDED', ...done }));
    expect(run.exitCode).toBe(0);
  });

  it('draws a live bar on a terminal instead of lines', async () => {
    const term = new PassThrough() as unknown as TerminalStream & PassThrough;
    let drawn = '';
    term.on('data', (c: Buffer) => { drawn += c.toString('utf8'); });
    term.isTTY = true;
    term.columns = 100;
    fake.taskSequence = [
      taskDoc({ bytes_transferred: 10 * MiB, bytes_expected: 40 * MiB }),
      taskDoc({ status: 'SUCCEEDED', bytes_transferred: 40 * MiB, bytes_expected: 40 * MiB, files_transferred: 40, ...done }),
    ];
    const run = await ferry(['task', 'wait', TASK], { terminal: term });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(run.out).toBe(`Task ${TASK} SUCCEEDED: 40.0 MiB, 40 files in 10s (4.00 MiB/s)\n`);
    expect(drawn).toContain('[======');
    expect(drawn).toContain('25%  10.0 MiB of 40.0 MiB');
    expect(drawn).toContain('SUCCEEDED  100%  40.0 MiB of 40.0 MiB');
    expect(drawn.endsWith('\n')).toBe(true);
  });

  it('validates --timeout and --polling-interval', async () => {
    expect((await ferry(['task', 'wait', '--timeout', '-1', TASK])).err).toContain('--timeout must be a number of seconds');
    expect((await ferry(['task', 'wait', '--polling-interval', '0.1', TASK])).err).toContain('--polling-interval must be a number of seconds from 0.5 to 3600');
    expect(control.requests).toHaveLength(0);
  });
});

describe('help', () => {
  it('every command explains itself with an example', async () => {
    const commands: Array<[string[], string]> = [
      [['transfer'], '$ ferry transfer '], [['rm'], '$ ferry rm '], [['task', 'wait'], '$ ferry task wait '],
      [['task', 'show'], '$ ferry task show '], [['task', 'list'], '$ ferry task list'], [['task', 'cancel'], '$ ferry task cancel '],
      [['task', 'events'], '$ ferry task events '],
    ];
    for (const [cmd, example] of commands) {
      const run = await ferry([...cmd, '--help']);
      expect((run.error as CommanderError).code).toBe('commander.helpDisplayed');
      expect(run.out).toContain(example);
    }
    const transfer = await ferry(['transfer', '--help']);
    expect(transfer.out).toContain('--batch <FILE>');
    expect(transfer.out).toContain('[--recursive | -r | --no-recursive] SOURCE_PATH DEST_PATH');
    expect(transfer.out).toContain('124');
    const wait = await ferry(['task', 'wait', '--help']);
    expect(wait.out).toContain('Exit status: 0 when the task SUCCEEDED, 1 when it FAILED');
  });
});
