import type { ServerResponse } from 'node:http';
import { sendJson, type RecordedRequest } from '../tls-fixture.js';
import { SUBMISSION, TASK, taskDoc } from './harness.js';

/**
 * The task half of control's API, just enough to drive the CLI: submission ids, idempotent
 * submissions (Duplicate for a known submission id), a scripted sequence of task documents
 * for GET /task/{id}, cancel, task list and event list. `inject` makes the next matching
 * requests fail, either with an error document or by cutting the connection after the
 * request was processed (a lost answer).
 */
export interface Injected {
  method: string;
  path: string;
  status?: number;
  doc?: unknown;
  /** Process the request, then close the connection without answering. */
  cut?: boolean;
  /** Let this many matching requests through first. */
  after?: number;
}

export class FakeTaskControl {
  /** Documents GET /v0.10/task/{id} answers with, one per poll; the last one repeats. */
  taskSequence: Array<Record<string, unknown>> = [taskDoc()];
  events: unknown[] = [];
  cancelCode = 'Canceled';
  readonly submissions = new Map<string, string>();
  readonly injected: Injected[] = [];
  polls = 0;

  inject(i: Injected): void {
    this.injected.push(i);
  }

  handle = (req: RecordedRequest, res: ServerResponse): void => {
    const path = req.url.pathname;
    const hit = this.injected.findIndex((i) => i.method === req.method && i.path === path);
    let injected = hit === -1 ? undefined : this.injected[hit];
    if (injected?.after) {
      injected.after--;
      injected = undefined;
    } else if (injected) {
      this.injected.splice(hit, 1);
    }
    if (injected && !injected.cut) {
      sendJson(res, injected.status ?? 500, injected.doc ?? { code: 'InternalError', message: 'injected failure' });
      return;
    }
    const answer = this.#route(req);
    if (injected?.cut) {
      // The request took effect, but the client never hears about it.
      res.socket?.destroy();
      return;
    }
    sendJson(res, answer[0], answer[1]);
  };

  #route(req: RecordedRequest): [number, unknown] {
    const path = req.url.pathname;
    const m = /^\/v0\.10\/task\/([^/]+)(\/cancel|\/event_list)?$/.exec(path);
    if (req.method === 'GET' && path === '/v0.10/submission_id') return [200, { DATA_TYPE: 'submission_id', value: SUBMISSION }];
    if (req.method === 'POST' && (path === '/v0.10/transfer' || path === '/v0.10/delete')) {
      const body = JSON.parse(req.body) as { submission_id: string };
      const kind = path.endsWith('transfer') ? 'transfer' : 'delete';
      const known = this.submissions.get(body.submission_id);
      if (known === undefined) this.submissions.set(body.submission_id, TASK);
      return [202, {
        DATA_TYPE: `${kind}_result`, code: known === undefined ? 'Accepted' : 'Duplicate', task_id: known ?? TASK,
        submission_id: body.submission_id, message: `The ${kind} has been accepted and a task has been created and queued for execution`, request_id: 'r1',
      }];
    }
    if (m && m[1] !== TASK) return [404, { code: 'ClientError.NotFound', message: `Task ${m[1]} not found`, request_id: 'r2' }];
    if (req.method === 'GET' && m && m[2] === undefined) {
      const doc = this.taskSequence[Math.min(this.polls, this.taskSequence.length - 1)];
      this.polls++;
      return [200, doc];
    }
    if (req.method === 'POST' && m?.[2] === '/cancel') {
      return [200, { DATA_TYPE: 'result', code: this.cancelCode, message: this.cancelCode === 'Canceled' ? 'The task has been cancelled successfully.' : 'The task completed before the cancel request was processed.' }];
    }
    if (req.method === 'GET' && m?.[2] === '/event_list') return [200, { DATA_TYPE: 'event_list', DATA: this.events, length: this.events.length, total: this.events.length }];
    if (req.method === 'GET' && path === '/v0.10/task_list') {
      return [200, { DATA_TYPE: 'task_list', DATA: [taskDoc()], length: 1, limit: 25, offset: 0, total: 1, has_next_page: false }];
    }
    return [404, { code: 'ClientError.NotFound', message: `no route ${req.method} ${path}` }];
  }
}
