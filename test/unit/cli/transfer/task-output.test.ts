import { describe, expect, it } from 'vitest';
import type { EventDocument, EventListDocument, SubmissionResult, TaskDocument, TaskListDocument } from '../../../../src/cli/task-client.js';
import {
  formatEventList, formatFailure, formatSubmitted, formatTask, formatTaskList, formatTaskSummary, lastErrorEvent, submittedNote, taskTime,
} from '../../../../src/cli/task-output.js';
import { DST, SRC, TASK, taskDoc } from './harness.js';

function task(over: Record<string, unknown> = {}): TaskDocument {
  return taskDoc(over) as TaskDocument;
}

function event(over: Partial<EventDocument>): EventDocument {
  return { DATA_TYPE: 'event', code: 'PROGRESS', is_error: false, description: 'progress', details: '', time: '2024-01-02T03:05:00+00:00', ...over };
}

describe('task output', () => {
  it('shows task times in UTC without the offset', () => {
    expect(taskTime('2021-09-02T18:04:47+00:00')).toBe('2021-09-02 18:04:47');
    expect(taskTime(null)).toBe('-');
  });

  it('prints only the task id on stdout after a submission, and a note for people', () => {
    const result: SubmissionResult = { DATA_TYPE: 'transfer_result', code: 'Accepted', message: 'accepted', task_id: TASK, submission_id: 's' };
    expect(formatSubmitted(result)).toBe(`${TASK}\n`);
    expect(submittedNote(result, 'transfer')).toBe(`ferry: transfer task ${TASK} accepted; follow it with: ferry task wait ${TASK}\n`);
    expect(submittedNote({ ...result, code: 'Duplicate' }, 'transfer')).toContain('already accepted earlier');
  });

  it('formats task show with endpoints, counters and the fatal error', () => {
    const text = formatTask(task({
      status: 'FAILED', nice_status: null, completion_time: '2024-01-02T03:05:05+00:00', files_transferred: 30, files_skipped: 2,
      bytes_transferred: 3 * 1024 * 1024, effective_bytes_per_second: 51200, sync_level: 3, faults: 1,
      fatal_error: { code: 'FILE_NOT_FOUND', description: 'file not found' },
    }));
    expect(text).toContain(`Task ID:            ${TASK}\n`);
    expect(text).toContain(`Source:             lab (${SRC})\n`);
    expect(text).toContain(`Destination:        hpc (${DST})\n`);
    expect(text).toContain('Status:             FAILED\n');
    expect(text).toContain('Files:              40, 30 transferred, 2 skipped\n');
    expect(text).toContain('Bytes transferred:  3.00 MiB (3145728 bytes)\n');
    expect(text).toContain('Rate:               50.0 KiB/s\n');
    expect(text).toContain('Sync level:         checksum (3)\n');
    expect(text).toContain('Fatal error:        FILE_NOT_FOUND: file not found\n');
    expect(text).not.toContain('Bytes expected');
  });

  it('names the endpoint of a delete task and shows why an active task is stuck', () => {
    const text = formatTask(task({ type: 'DELETE', destination_endpoint_id: null, destination_endpoint_display_name: null, nice_status: 'PERMISSION_DENIED' }));
    expect(text).toContain(`Endpoint:           lab (${SRC})\n`);
    expect(text).not.toContain('Destination');
    expect(text).toContain('Status:             ACTIVE (PERMISSION_DENIED)\n');
  });

  it('formats the task list as a table and says when more exist', () => {
    const list: TaskListDocument = {
      DATA_TYPE: 'task_list', total: 3, length: 2, limit: 2, offset: 0, has_next_page: true,
      DATA: [task({ bytes_transferred: 2048 }), task({ task_id: 'b', label: null, type: 'DELETE', status: 'SUCCEEDED', request_time: '2024-01-01T00:00:00+00:00' })],
    };
    expect(formatTaskList(list)).toBe([
      'Task ID                               Status     Type      Label     Bytes  Request Time',
      `${TASK}  ACTIVE     TRANSFER  run 7  2.00 KiB  2024-01-02 03:04:05`,
      'b                                     SUCCEEDED  DELETE    -           0 B  2024-01-01 00:00:00',
      '(2 of 3 tasks shown; use --limit for more)',
      '',
    ].join('\n'));
    expect(formatTaskList({ DATA_TYPE: 'task_list', DATA: [] })).toBe('No tasks found.\n');
  });

  it('formats events with folded details and escapes control characters', () => {
    const list: EventListDocument = {
      DATA_TYPE: 'event_list',
      DATA: [
        event({ code: 'FILE_NOT_FOUND', is_error: true, description: 'file not found', details: 'open /~/a\n  no such file\x1b[2J', time: '2024-01-02T03:06:00+00:00' }),
        event({ code: 'STARTED', description: 'started', details: '{"parallelism":4}' }),
      ],
    };
    expect(formatEventList(list)).toBe([
      'Time                 Code            Error  Details',
      '2024-01-02 03:06:00  FILE_NOT_FOUND  yes    file not found: open /~/a no such file\\x1b[2J',
      '2024-01-02 03:05:00  STARTED         no     started: {"parallelism":4}',
      '',
    ].join('\n'));
    expect(formatEventList({ DATA_TYPE: 'event_list', DATA: [] })).toBe('No events.\n');
  });

  it('picks the newest error event whatever the order', () => {
    const list: EventListDocument = {
      DATA_TYPE: 'event_list',
      DATA: [
        event({ code: 'CONNECT_FAILED', is_error: true, time: '2024-01-02T03:05:00+00:00' }),
        event({ code: 'PERMISSION_DENIED', is_error: true, time: '2024-01-02T03:07:00+00:00' }),
        event({ code: 'PROGRESS', time: '2024-01-02T03:08:00+00:00' }),
      ],
    };
    expect(lastErrorEvent(list)?.code).toBe('PERMISSION_DENIED');
    expect(lastErrorEvent({ DATA_TYPE: 'event_list', DATA: [event({})] })).toBeUndefined();
  });

  it('summarises a finished task', () => {
    const done = task({ status: 'SUCCEEDED', completion_time: '2024-01-02T03:04:40+00:00', bytes_transferred: 35 * 1024 * 1024, files_skipped: 3, effective_bytes_per_second: 1024 * 1024 });
    expect(formatTaskSummary(done)).toBe(`Task ${TASK} SUCCEEDED: 35.0 MiB, 40 files (3 skipped) in 35s (1.00 MiB/s)\n`);
    expect(formatTaskSummary(task({ status: 'SUCCEEDED', files: 1, completion_time: null }))).toBe(`Task ${TASK} SUCCEEDED: 0 B, 1 file\n`);
  });

  it('explains a failure with the fatal error and the last error event', () => {
    const failed = task({ status: 'FAILED', fatal_error: { code: 'CANCELED', description: 'canceled' } });
    const ev = event({ code: 'PERMISSION_DENIED', is_error: true, description: 'permission denied', details: 'open /~/x: EACCES' });
    expect(formatFailure(failed, ev)).toBe([
      `ferry: task ${TASK} failed: CANCELED: canceled`,
      '  last error event (2024-01-02 03:05:00): PERMISSION_DENIED: permission denied: open /~/x: EACCES',
      `  see all events with: ferry task events ${TASK}`,
      '',
    ].join('\n'));
    expect(formatFailure(task({ status: 'FAILED' }), undefined)).toContain('failed (control gave no reason)');
  });
});
