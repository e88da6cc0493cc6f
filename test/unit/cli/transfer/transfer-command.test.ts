import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RemoteError } from '../../../../src/cli/api-client.js';
import { makeTestPki, startFakeControl, type FakeControl, type TestPki } from '../tls-fixture.js';
import { FakeTaskControl } from './fake-task-control.js';
import { DST, runFerry, SRC, SUBMISSION, TASK, taskDoc, type Run, type RunOptions } from './harness.js';

let pki: TestPki;
let control: FakeControl;
let fake: FakeTaskControl;
const dir = mkdtempSync(join(tmpdir(), 'ferry-transfer-cmd-'));

beforeAll(async () => {
  pki = makeTestPki();
  control = await startFakeControl(pki, () => { throw new Error('handler not set'); });
});
afterAll(async () => {
  await control.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake = new FakeTaskControl();
  control.handle = fake.handle;
});
afterEach(() => { control.requests.length = 0; });

const ferry = (args: string[], opts?: RunOptions): Promise<Run> => runFerry(control, pki, args, opts);

function bodies(path: string): Array<Record<string, unknown>> {
  return control.requests.filter((r) => r.url.pathname === path).map((r) => JSON.parse(r.body) as Record<string, unknown>);
}

function expectUsageError(run: Run, text: string): void {
  // main.ts turns every CommanderError with a non-zero exit code into exit status 2.
  expect(run.error).toBeInstanceOf(CommanderError);
  expect((run.error as CommanderError).exitCode).not.toBe(0);
  expect(run.err).toContain(text);
  expect(control.requests).toHaveLength(0);
}

describe('ferry transfer', () => {
  it('fetches a submission id, submits one item and prints only the task id', async () => {
    const run = await ferry(['transfer', `${SRC}:/~/data.csv`, `${DST}:/~/in/data.csv`]);
    expect(run.error).toBeUndefined();
    expect(control.requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual(['GET /v0.10/submission_id', 'POST /v0.10/transfer']);
    expect(bodies('/v0.10/transfer')).toEqual([{
      DATA_TYPE: 'transfer', submission_id: SUBMISSION, source_endpoint: SRC, destination_endpoint: DST,
      // No `recursive`: control detects files and directories.
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/data.csv', destination_path: '/~/in/data.csv' }],
    }]);
    expect(run.out).toBe(`${TASK}\n`);
    expect(run.err).toBe(`ferry: transfer task ${TASK} accepted; follow it with: ferry task wait ${TASK}\n`);
    expect(run.exitCode).toBeUndefined();
  });

  it('maps every option onto the Globus transfer document', async () => {
    await ferry(['transfer', '-r', '--sync-level', 'checksum', '--verify-checksum', '--preserve-mtime', '--delete', '--parallelism', '8',
      '--label', 'run 7', `${SRC}:/~/run7`, `${DST}:/~/runs/run7`]);
    await ferry(['transfer', '--no-recursive', '--no-verify-checksum', '--no-encrypt-data', '--sync-level', 'exists', `${SRC}:/a`, `${DST}:/b`]);
    const [first, second] = bodies('/v0.10/transfer');
    // Left out unless asked: control then encrypts (Ferry's default).
    expect(first).not.toHaveProperty('encrypt_data');
    expect(second).toMatchObject({ encrypt_data: false });
    expect(first).toMatchObject({
      DATA: [{ DATA_TYPE: 'transfer_item', source_path: '/~/run7', destination_path: '/~/runs/run7', recursive: true }],
      sync_level: 3, verify_checksum: true, preserve_timestamp: true, delete_destination_extra: true, perf_p: 8, label: 'run 7',
    });
    expect(second).toMatchObject({ DATA: [{ recursive: false }], sync_level: 0, verify_checksum: false });
    expect(second).not.toHaveProperty('preserve_timestamp');
    expect(second).not.toHaveProperty('perf_p');
  });

  it('keeps --include and --exclude in command-line order as filter_rules', async () => {
    await ferry(['transfer', '-r', '--include', '*.h5', '--exclude', 'tmp*', '--include', 'keep[0-9]', '--exclude', '*', `${SRC}:/~/run`, `${DST}:/~/run`]);
    await ferry(['transfer', '-r', `${SRC}:/~/run`, `${DST}:/~/run2`]);
    const [first, second] = bodies('/v0.10/transfer');
    expect(first!['filter_rules']).toEqual([
      { DATA_TYPE: 'filter_rule', method: 'include', name: '*.h5' },
      { DATA_TYPE: 'filter_rule', method: 'exclude', name: 'tmp*' },
      { DATA_TYPE: 'filter_rule', method: 'include', name: 'keep[0-9]' },
      { DATA_TYPE: 'filter_rule', method: 'exclude', name: '*' },
    ]);
    expect(second).not.toHaveProperty('filter_rules');
  });

  it('refuses filter globs with a slash, and filters on a single-file transfer', async () => {
    expectUsageError(await ferry(['transfer', '-r', '--exclude', 'a/b', `${SRC}:/~/run`, `${DST}:/~/run`]), 'contain no /');
    expectUsageError(await ferry(['transfer', '--no-recursive', '--exclude', '*.tmp', `${SRC}:/~/f`, `${DST}:/~/f`]), 'need a directory (recursive) transfer');
  });

  it('reads a batch file, joining relative paths to the command-line base', async () => {
    const file = join(dir, 'batch.txt');
    writeFileSync(file, '# inputs\n/share/a.txt a.txt\n--recursive "/share/my dir" "my dir"\n');
    const run = await ferry(['transfer', '--batch', file, SRC, `${DST}:/~/inbox/`]);
    expect(run.error).toBeUndefined();
    expect(bodies('/v0.10/transfer')[0]?.['DATA']).toEqual([
      { DATA_TYPE: 'transfer_item', source_path: '/share/a.txt', destination_path: '/~/inbox/a.txt' },
      { DATA_TYPE: 'transfer_item', source_path: '/share/my dir', destination_path: '/~/inbox/my dir', recursive: true },
    ]);
  });

  it('reads the batch from standard input for --batch -', async () => {
    await ferry(['transfer', '--batch', '-', SRC, DST], { stdin: '/x /y\n' });
    expect(bodies('/v0.10/transfer')[0]?.['DATA']).toEqual([{ DATA_TYPE: 'transfer_item', source_path: '/x', destination_path: '/y' }]);
  });

  it('rejects bad input as a usage error without contacting control', async () => {
    expectUsageError(await ferry(['transfer', 'lab:/x', `${DST}:/y`]), "'lab' is not an endpoint ID");
    expectUsageError(await ferry(['transfer', SRC, `${DST}:/y`]), 'give SRC_ENDPOINT_ID:PATH and DST_ENDPOINT_ID:PATH');
    expectUsageError(await ferry(['transfer', '--parallelism', '17', `${SRC}:/x`, `${DST}:/y`]), '--parallelism must be a whole number from 1 to 16');
    expectUsageError(await ferry(['transfer', '--parallelism', 'lots', `${SRC}:/x`, `${DST}:/y`]), "got 'lots'");
    expectUsageError(await ferry(['transfer', '--label', ' padded', `${SRC}:/x`, `${DST}:/y`]), 'must not start or end with white space');
    expectUsageError(await ferry(['transfer', '--label', 'a\nb', `${SRC}:/x`, `${DST}:/y`]), 'line breaks');
    expectUsageError(await ferry(['transfer', '--label', 'x'.repeat(129), `${SRC}:/x`, `${DST}:/y`]), '1 to 128 characters');
    expectUsageError(await ferry(['transfer', '--sync-level', 'newer', `${SRC}:/x`, `${DST}:/y`]), 'Allowed choices are exists, size, mtime, checksum');
    expectUsageError(await ferry(['transfer', '--timeout', '5', `${SRC}:/x`, `${DST}:/y`]), '--timeout and --polling-interval need --wait');
    expectUsageError(await ferry(['transfer', '--delete', '--no-recursive', `${SRC}:/x`, `${DST}:/y`]), '--delete removes extra files');
    expectUsageError(await ferry(['transfer', '--submission-id', 'abc', `${SRC}:/x`, `${DST}:/y`]), '--submission-id must be a UUID');
    expectUsageError(await ferry(['transfer', '--batch', '-', '--recursive', SRC, DST], { stdin: '/a /b\n' }), 'put --recursive or --no-recursive on the lines');
    expectUsageError(await ferry(['transfer', '--batch', join(dir, 'missing.txt'), SRC, DST]), 'cannot read the batch file');
  });

  it('reports the bad lines of a batch file with their numbers', async () => {
    const file = join(dir, 'bad.txt');
    writeFileSync(file, '/ok /ok\n/lonely\n/a /b -x\n');
    const run = await ferry(['transfer', '--batch', file, SRC, DST]);
    expectUsageError(run, `${file} has 2 bad lines:\n${file}:2: expected SOURCE_PATH DEST_PATH, found 1 path\n${file}:3: unknown option '-x'`);
  });

  it('re-sends a submission whose answer was lost with the same id, so only one task exists', async () => {
    fake.inject({ method: 'POST', path: '/v0.10/transfer', cut: true });
    const run = await ferry(['transfer', `${SRC}:/a`, `${DST}:/b`]);
    expect(run.error).toBeUndefined();
    const posts = bodies('/v0.10/transfer');
    expect(posts).toHaveLength(2);
    expect(posts.map((p) => p['submission_id'])).toEqual([SUBMISSION, SUBMISSION]);
    expect(fake.submissions.size).toBe(1);
    expect(run.out).toBe(`${TASK}\n`);
    expect(run.err).toContain('submitting the transfer failed');
    expect(run.err).toContain('retrying (attempt 2 of 3)');
    expect(run.err).toContain('already accepted earlier');
    expect(run.clock.sleeps).toEqual([1000]);
  });

  it('does not retry a refusal, and gives up after three failed attempts', async () => {
    fake.inject({ method: 'POST', path: '/v0.10/transfer', status: 409, doc: { code: 'Conflict', message: 'A transfer with identical paths has not yet completed' } });
    const refused = await ferry(['transfer', `${SRC}:/a`, `${DST}:/b`]);
    expect((refused.error as RemoteError).remoteCode).toBe('Conflict');
    expect(bodies('/v0.10/transfer')).toHaveLength(1);
    control.requests.length = 0;
    for (let i = 0; i < 3; i++) fake.inject({ method: 'GET', path: '/v0.10/submission_id', status: 503, doc: { code: 'ServiceUnavailable', message: 'restarting' } });
    const down = await ferry(['transfer', `${SRC}:/a`, `${DST}:/b`]);
    expect((down.error as RemoteError).remoteCode).toBe('ServiceUnavailable');
    expect(control.requests.map((r) => r.url.pathname)).toEqual(Array(3).fill('/v0.10/submission_id'));
    expect(down.clock.sleeps).toEqual([1000, 2000]);
  });

  it('uses a given submission id instead of fetching one', async () => {
    const sid = '12345678-1234-4234-8234-123456789abc';
    await ferry(['transfer', '--submission-id', sid, `${SRC}:/a`, `${DST}:/b`]);
    expect(control.requests.map((r) => r.url.pathname)).toEqual(['/v0.10/transfer']);
    expect(bodies('/v0.10/transfer')[0]?.['submission_id']).toBe(sid);
  });

  it('--dry-run shows the plan and sends nothing', async () => {
    const text = await ferry(['transfer', '--dry-run', '-r', `${SRC}:/~/a b`, `${DST}:/~/c`]);
    expect(text.out).toBe(`From ${SRC} to ${DST}, 1 item:\nSource Path  Dest Path  Recursive\n/~/a b       /~/c       yes\n`);
    const json = await ferry(['transfer', '--dry-run', '--format', 'json', `${SRC}:/a`, `${DST}:/b`]);
    expect(JSON.parse(json.out)).toMatchObject({ DATA_TYPE: 'transfer', source_endpoint: SRC, DATA: [{ source_path: '/a' }] });
    expect(control.requests).toHaveLength(0);
  });

  it('--format json prints control\'s submission result', async () => {
    const run = await ferry(['transfer', '--format', 'json', `${SRC}:/a`, `${DST}:/b`]);
    expect(JSON.parse(run.out)).toMatchObject({ DATA_TYPE: 'transfer_result', code: 'Accepted', task_id: TASK });
    expect(run.err).toBe('');
  });

  it('--wait follows the new task to the end and exits with its outcome', async () => {
    fake.taskSequence = [taskDoc({ bytes_transferred: 0 }), taskDoc({ status: 'SUCCEEDED', bytes_transferred: 2048, files_transferred: 40, completion_time: '2024-01-02T03:04:07+00:00' })];
    const run = await ferry(['transfer', '--wait', `${SRC}:/a`, `${DST}:/b`]);
    expect(run.out.split('\n')).toEqual([
      TASK,
      'ACTIVE  0 B  files 0/40',
      'SUCCEEDED  100%  2.00 KiB  2.00 KiB/s  files 40/40',
      `Task ${TASK} SUCCEEDED: 2.00 KiB, 40 files in 2s (1.00 KiB/s)`,
      '',
    ]);
    expect(run.exitCode).toBe(0);
  });
  it('--wait --format json prints only the final task document; the note goes to stderr', async () => {
    fake.taskSequence = [taskDoc({ status: 'SUCCEEDED' })];
    const run = await ferry(['transfer', '--wait', '--format', 'json', `${SRC}:/a`, `${DST}:/b`]);
    expect(JSON.parse(run.out)).toEqual(taskDoc({ status: 'SUCCEEDED' }));
    expect(run.err).toContain(`transfer task ${TASK} accepted`);
    expect(run.exitCode).toBe(0);
  });
});

describe('ferry rm', () => {
  it('submits a delete task and prints its id', async () => {
    const run = await ferry(['rm', '-r', '--ignore-missing', '--label', 'cleanup', `${SRC}:/~/scratch`]);
    expect(bodies('/v0.10/delete')).toEqual([{
      DATA_TYPE: 'delete', submission_id: SUBMISSION, endpoint: SRC, recursive: true, ignore_missing: true, label: 'cleanup',
      DATA: [{ DATA_TYPE: 'delete_item', path: '/~/scratch' }],
    }]);
    expect(run.out).toBe(`${TASK}\n`);
    expect(run.err).toContain(`delete task ${TASK} accepted`);
    await ferry(['rm', `${SRC}:/~/f.txt`]);
    expect(bodies('/v0.10/delete')[1]).toMatchObject({ recursive: false });
    expect(bodies('/v0.10/delete')[1]).not.toHaveProperty('ignore_missing');
  });

  it('needs a path', async () => {
    expectUsageError(await ferry(['rm', `${SRC}:`]), 'names no path');
  });

  it('--wait reports a failed delete with exit status 1 and says why', async () => {
    fake.taskSequence = [taskDoc({ type: 'DELETE', status: 'FAILED', fatal_error: { code: 'FILE_NOT_FOUND', description: 'file not found' } })];
    fake.events = [{ DATA_TYPE: 'event', code: 'FILE_NOT_FOUND', is_error: true, description: 'file not found', details: '/~/gone: no such file', time: '2024-01-02T03:04:06+00:00' }];
    const run = await ferry(['rm', '--wait', `${SRC}:/~/gone`]);
    expect(run.exitCode).toBe(1);
    expect(run.err).toContain(`ferry: task ${TASK} failed: FILE_NOT_FOUND: file not found`);
    expect(run.err).toContain('last error event (2024-01-02 03:04:06): FILE_NOT_FOUND: file not found: /~/gone: no such file');
  });
});
