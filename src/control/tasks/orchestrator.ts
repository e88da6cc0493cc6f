import { safetyCatch } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { SessionNotice } from '../hub/hub.js';
import type { TaskRepo, TaskSummary } from '../store/tasks.js';
import { DeleteRunner } from './delete-runner.js';
import { DEFAULT_TASK_LIMITS, type TaskLimits } from './limits.js';
import { RunRegistry, SessionCanceller, type RunnerDeps, type TaskHub } from './runs.js';
import { foldStats } from './stats.js';
import { TransferRunner } from './transfer-runner.js';
import { TaskTransitions } from './transitions.js';
import { agentEndpointOf, DIRECT_ENDPOINTS, type TaskEndpoints } from './endpoints.js';

export interface TaskOrchestratorInit {
  repo: TaskRepo;
  hub: TaskHub;
  log: Logger;
  /** Injectable clock (ms), for deadline and backoff tests. */
  now?: () => number;
  /** Source of jitter; tests pass () => 0. */
  random?: () => number;
  limits?: Partial<TaskLimits>;
  /** Guest collections: which agents serve an endpoint, and the owner's principals. Default: every endpoint is its own. */
  endpoints?: TaskEndpoints;
}

export type CancelOutcome = 'Canceled' | 'TaskComplete';

/**
 * Drives ACTIVE tasks to an end. State lives in the store, so a restarted control resumes
 * where it was; the live sessions are kept in memory. A tick (every `tickMs`) applies
 * deadlines, retries after backoff and stall checks; agent arrivals and submissions start
 * work at once.
 */
export class TaskOrchestrator {
  readonly limits: TaskLimits;
  private readonly now: () => number;
  private readonly deps: RunnerDeps;
  private readonly transfers: TransferRunner;
  private readonly deletes: DeleteRunner;
  private timer: NodeJS.Timeout | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly init: TaskOrchestratorInit) {
    this.limits = { ...DEFAULT_TASK_LIMITS, ...init.limits };
    this.now = init.now ?? Date.now;
    const log = init.log.child({ component: 'tasks' });
    const runs = new RunRegistry(this.now);
    this.deps = {
      repo: init.repo, hub: init.hub, log, now: this.now, limits: this.limits, runs,
      transitions: new TaskTransitions(init.repo, this.now, this.limits, init.random ?? Math.random, (id) => this.ended(id)),
      cancels: new SessionCanceller(init.hub, this.limits.sessionCancelTimeoutMs, log),
      endpoints: init.endpoints ?? DIRECT_ENDPOINTS,
      onError: safetyCatch((err) => log.error({ err }, 'task step failed')),
    };
    this.transfers = new TransferRunner(this.deps);
    this.deletes = new DeleteRunner(this.deps);
  }

  /** Listen to the hub, adopt the ACTIVE tasks a previous control left, start the tick. */
  open(): void {
    if (this.state !== 'new') return;
    this.state = 'open';
    this.init.hub.addListener({
      onAgentReady: (endpointId, nodeId) => this.onAgentReady(endpointId, nodeId),
      onAgentGone: (_endpointId, nodeId) => { if (this.state === 'open') this.transfers.agentGone(nodeId); },
      onSessionNotice: (_endpointId, nodeId, notice) => this.onNotice(nodeId, notice),
    });
    for (const t of this.init.repo.active()) {
      if (t.session === null) continue;
      // That session's control is gone: cancel it on both agents (when they connect) and start afresh.
      this.deps.runs.retire(t.session.sessionId, t.id, t.session.destinationNode);
      // The task goes on: the destination keeps what it wrote for the next attempt.
      this.deps.cancels.cancel(t.session.sourceNode, t.session.sessionId, true);
      if (t.session.destinationNode !== t.session.sourceNode) this.deps.cancels.cancel(t.session.destinationNode, t.session.sessionId, true);
      this.init.repo.apply(t.id, { ...foldStats(t), session: null });
    }
    this.timer = setInterval(() => this.tick(), this.limits.tickMs);
    this.timer.unref();
    this.tick();
  }

  /**
   * Stop driving tasks. Sessions keep running on the agents; the tasks stay ACTIVE and the
   * next control cancels and re-opens them. Nothing is written after this returns.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.timer);
    this.deps.runs.clear();
  }

  /** A task was just submitted (or changed): act on it now rather than at the next tick. */
  kick(taskId: string): void {
    if (this.state !== 'open') return;
    const t = this.init.repo.get(taskId);
    if (t && t.status === 'ACTIVE') this.advance(t, this.now());
  }

  /** Cancel at the owner's request: FAILED with a CANCELED event, agents told to stop. */
  cancel(taskId: string): CancelOutcome {
    const t = this.init.repo.get(taskId);
    if (!t || (t.status !== 'ACTIVE' && t.status !== 'INACTIVE')) return 'TaskComplete';
    this.end(t, 'CANCELED', 'Canceled by the task owner');
    return 'Canceled';
  }

  tick(): void {
    if (this.state !== 'open') return;
    const now = this.now();
    this.deps.runs.prune(now);
    for (const t of this.init.repo.activeSummaries()) this.advance(t, now);
  }

  private advance(t: TaskSummary, now: number): void {
    if (t.deadline <= now) {
      this.end(t, 'EXPIRED', 'The task deadline passed before the task completed');
      return;
    }
    const run = this.deps.runs.get(t.id);
    if (run) {
      if (run.kind === 'transfer' && now - run.lastNoticeAt > this.limits.stallTimeoutMs) {
        const s = Math.round(this.limits.stallTimeoutMs / 1000);
        this.transfers.abort(run, { code: 'TIMEOUT', message: `No word from the agents for ${s} s; the session is restarted`, action: 'retry' });
      }
      return;
    }
    if (t.retryAt > now) return;
    // Still waiting for an agent, and already said so: skip loading the task's items.
    const offline = (ep: string | null) => {
      const agentEp = ep === null ? null : agentEndpointOf(this.deps.endpoints.route(ep));
      return agentEp !== null && this.init.hub.connectedNodes(agentEp).length === 0;
    };
    if (t.niceStatus === 'GC_NOT_CONNECTED' && (offline(t.sourceEndpointId) || offline(t.destinationEndpointId))) return;
    const full = this.init.repo.get(t.id);
    if (full?.type === 'TRANSFER') this.transfers.start(full);
    else if (full?.type === 'DELETE') this.deletes.start(full);
  }

  private end(t: Pick<TaskSummary, 'id'>, code: 'CANCELED' | 'EXPIRED', details: string): void {
    const run = this.deps.runs.get(t.id);
    if (run?.kind === 'transfer') this.transfers.stop(run);
    else if (run) this.deps.runs.remove(run);
    // A running delete item cannot be recalled; its answer is ignored.
    this.deps.transitions.fail(t.id, code, details, code === 'CANCELED' ? 'canceled' : 'deadline expired');
    this.deps.log.info({ taskId: t.id, code }, 'task ended');
  }

  /** A transfer ended: its destination's agents remove what its attempts left (partials, markers). */
  private ended(taskId: string): void {
    const t = this.init.repo.get(taskId);
    if (t?.type !== 'TRANSFER' || !t.destinationEndpointId) return;
    const agentEp = agentEndpointOf(this.deps.endpoints.route(t.destinationEndpointId));
    if (agentEp === null) return;
    // Queued behind any session.cancel just sent, so the session stops before its files go.
    this.deps.cancels.cleanupTask(agentEp, taskId);
  }

  private onAgentReady(endpointId: string, nodeId: string): void {
    if (this.state !== 'open') return;
    // Stale sessions first: the link delivers in order, so they stop before new ones open.
    this.deps.cancels.flush(nodeId);
    // Then what tasks that ended while the endpoint had no agent here left on it.
    this.deps.cancels.flushCleanups(endpointId);
    const now = this.now();
    // A guest collection's tasks wait for its host's agents.
    const served = (ep: string | null) => ep !== null && (ep === endpointId || agentEndpointOf(this.deps.endpoints.route(ep)) === endpointId);
    for (const t of this.init.repo.activeSummaries()) {
      if (served(t.sourceEndpointId) || served(t.destinationEndpointId)) this.advance(t, now);
    }
  }

  private onNotice(nodeId: string, notice: SessionNotice): void {
    if (this.state !== 'open') return;
    const run = this.deps.runs.session(notice.sessionId);
    if (run) return this.transfers.onNotice(run, nodeId, notice);
    if (this.deps.runs.isRetired(notice.sessionId)) {
      // Files made durable before the session was stopped are still the task's.
      if (notice.type !== 'session.files') return;
      const taskId = this.deps.runs.retiredTaskOf(notice.sessionId, nodeId);
      if (taskId !== null) this.init.repo.addSuccessful(taskId, notice.files);
      return;
    }
    // A session control does not know (e.g. opened before a restart): make it stop.
    this.deps.runs.retire(notice.sessionId);
    if (notice.type !== 'session.done') this.deps.cancels.cancel(nodeId, notice.sessionId, true);
    this.deps.log.info({ nodeId, sessionId: notice.sessionId }, 'notice for an unknown session; told the agent to cancel it');
  }
}
