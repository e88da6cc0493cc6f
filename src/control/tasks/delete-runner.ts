import type { DeleteResult, Principals } from '../../protocol/index.js';
import type { DeleteTaskRecord } from '../store/tasks.js';
import { classifyError } from './failures.js';
import type { DeleteRun, RunnerDeps } from './runs.js';

/**
 * Runs a delete task: one `delete` operation per item on the endpoint's agent, in order,
 * recording after each item how far it got so a retry (or a restarted control) goes on from
 * the next one.
 */
export class DeleteRunner {
  constructor(private readonly d: RunnerDeps) {}

  start(t: DeleteTaskRecord): void {
    const route = this.d.endpoints.route(t.sourceEndpointId);
    if ('refused' in route) {
      this.d.transitions.fail(t.id, 'PERMISSION_DENIED', `Sharing.CollectionRefused: ${route.refused}`);
      return;
    }
    if (this.d.hub.connectedNodes(route.agentEndpointId).length === 0) {
      this.d.transitions.waiting(t, 'GC_NOT_CONNECTED', 'The endpoint has no connected agent; the task resumes when it connects');
      return;
    }
    const run: DeleteRun = { kind: 'delete', taskId: t.id };
    this.d.runs.add(run);
    if (t.attempts === 0) this.d.transitions.started(t.id, { type: 'Ferry Delete' }, { attempts: 1 });
    else this.d.repo.apply(t.id, { attempts: t.attempts + 1, niceStatus: 'OK', niceStatusDescription: 'OK' });
    this.run(t, run, route).catch(this.d.onError);
  }

  private async run(t: DeleteTaskRecord, run: DeleteRun, route: { agentEndpointId: string; collectionId: string | null }): Promise<void> {
    // The agent decides with the owner's account principals (as now), like any file operation they make.
    const principals: Principals = this.d.endpoints.principals(t.ownerId, route.collectionId);
    const collectionId = route.collectionId ?? undefined;
    for (let i = t.itemsDone; i < t.items.length; i++) {
      const path = t.items[i]!.path;
      // An earlier attempt may have deleted this item before its answer was lost: missing is fine then.
      const ignoreMissing = t.options.ignoreMissing || (i === t.itemsDone && t.attempts > 0);
      let result: DeleteResult;
      try {
        result = await this.d.hub.request(route.agentEndpointId, 'delete', { path, recursive: t.options.recursive, ignoreMissing }, principals, this.d.limits.deleteTimeoutMs, collectionId);
      } catch (err) {
        if (!this.d.runs.isCurrent(run)) return;
        this.d.runs.remove(run);
        const f = classifyError(err, { failOnQuotaErrors: false });
        const failure = { ...f, message: `${path}: ${f.message}` };
        if (failure.action === 'fail') this.d.transitions.fail(t.id, failure.code, failure.message);
        else this.d.transitions.retry(t.id, failure, { fault: true, backoff: failure.action === 'retry' });
        return;
      }
      if (!this.d.runs.isCurrent(run)) return;
      const cur = this.d.repo.get(t.id);
      if (!cur) return;
      this.d.repo.apply(t.id, {
        itemsDone: i + 1,
        statsBase: { ...cur.statsBase, files: cur.statsBase.files + result.files, directories: cur.statsBase.directories + result.directories },
      });
    }
    this.d.runs.remove(run);
    this.d.transitions.succeed(t.id);
  }
}
