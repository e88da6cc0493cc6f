import { Type, type TSchema } from '@sinclair/typebox';
import { isFerryError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { FileOpArgs, FileOpResult, Principals, SessionRole } from '../../protocol/index.js';
import type { HubListener } from '../hub/hub.js';
import type { TaskRepo } from '../store/tasks.js';
import type { TaskEndpoints } from './endpoints.js';
import type { TaskLimits } from './limits.js';
import type { TaskTransitions } from './transitions.js';

/** The few hub methods tasks use (AgentHub has them; unit tests pass a fake). */
export interface TaskHub {
  addListener(listener: HubListener): void;
  connectedNodes(endpointId: string): ReadonlyArray<{ readonly nodeId: string; readonly hello: { readonly dataAddresses: readonly string[]; readonly capabilities?: readonly string[] } | undefined }>;
  call(nodeId: string, message: Record<string, unknown>, resultSchema: TSchema, what: string, timeoutMs?: number): Promise<unknown>;
  /** With `collectionId`, `endpointId` is that guest collection's host. */
  request(endpointId: string, op: 'delete', args: FileOpArgs<'delete'>, principals: Principals, timeoutMs?: number, collectionId?: string): Promise<FileOpResult<'delete'>>;
}

/** A transfer task's live session (in memory; the store keeps only its id and nodes). */
export interface TransferRun {
  kind: 'transfer';
  taskId: string;
  sessionId: string;
  sourceNode: string;
  destinationNode: string;
  phase: 'opening' | 'running';
  /** Roles that sent session.done. */
  done: Partial<Record<SessionRole, boolean>>;
  lastNoticeAt: number;
  /** Bytes moved when the session last reported an error (progress past it clears nice_status). */
  bytesAtError: number | null;
  progressed: boolean;
  failOnQuotaErrors: boolean;
}
export interface DeleteRun { kind: 'delete'; taskId: string }
export type Run = TransferRun | DeleteRun;

/** Forget ended session ids after this long; their last notices are ignored until then. */
const RETIRED_SESSION_TTL_MS = 30 * 60_000;

/** The live runs, by task and by session, plus recently ended session ids. */
export class RunRegistry {
  private readonly byTask = new Map<string, Run>();
  private readonly bySession = new Map<string, TransferRun>();
  /** Ended sessions: until when to remember them, and (if known) whose files they were. */
  private readonly retired = new Map<string, { until: number; taskId: string | null; destinationNode: string | null }>();

  constructor(private readonly now: () => number) {}

  add(run: Run): void {
    this.byTask.set(run.taskId, run);
    if (run.kind === 'transfer') this.bySession.set(run.sessionId, run);
  }

  /** End a run; later continuations of its promises see it is no longer current. */
  remove(run: Run): void {
    if (this.byTask.get(run.taskId) === run) this.byTask.delete(run.taskId);
    if (run.kind === 'transfer') {
      this.bySession.delete(run.sessionId);
      this.retire(run.sessionId, run.taskId, run.destinationNode);
    }
  }

  retire(sessionId: string, taskId: string | null = null, destinationNode: string | null = null): void {
    this.retired.set(sessionId, { until: this.now() + RETIRED_SESSION_TTL_MS, taskId, destinationNode });
  }

  isRetired(sessionId: string): boolean {
    return this.retired.has(sessionId);
  }

  /** The task an ended session belonged to, if `nodeId` was its destination. */
  retiredTaskOf(sessionId: string, nodeId: string): string | null {
    const r = this.retired.get(sessionId);
    return r && r.destinationNode === nodeId ? r.taskId : null;
  }

  get(taskId: string): Run | undefined {
    return this.byTask.get(taskId);
  }

  session(sessionId: string): TransferRun | undefined {
    return this.bySession.get(sessionId);
  }

  isCurrent(run: Run): boolean {
    return this.byTask.get(run.taskId) === run;
  }

  transfers(): TransferRun[] {
    return [...this.bySession.values()];
  }

  prune(now: number): void {
    for (const [id, r] of this.retired) if (r.until <= now) this.retired.delete(id);
  }

  clear(): void {
    this.byTask.clear();
    this.bySession.clear();
  }
}

const AnyResult = Type.Unknown();

/**
 * Sends session.cancel, best effort. A node that is offline gets it when it reconnects, before
 * anything else, so a stale session never races its replacement.
 */
export class SessionCanceller {
  /** Per node: session id -> keepPartials. */
  private readonly pending = new Map<string, Map<string, boolean>>();
  /** Per agent endpoint: tasks that ended while it could not be told to clean up (task.cleanup). */
  private readonly pendingCleanups = new Map<string, Set<string>>();

  constructor(private readonly hub: TaskHub, private readonly timeoutMs: number, private readonly log: Logger) {}

  /**
   * @param keepPartials only this attempt ends (the task retries): the destination keeps its
   *   partial files and restart markers for the next attempt.
   */
  cancel(nodeId: string, sessionId: string, keepPartials = false): void {
    const msg = { type: 'session.cancel' as const, sessionId, ...(keepPartials ? { keepPartials } : {}) };
    this.hub.call(nodeId, msg, AnyResult, 'session.cancel', this.timeoutMs).catch((err: unknown) => {
      if (isFerryError(err) && err.code === 'ExternalError.GCDisconnected') {
        let map = this.pending.get(nodeId);
        if (!map) this.pending.set(nodeId, (map = new Map()));
        map.set(sessionId, keepPartials && (map.get(sessionId) ?? true));
        return;
      }
      this.log.debug({ nodeId, sessionId, reason: err instanceof Error ? err.message : String(err) }, 'session.cancel not confirmed');
    });
  }

  /** The node is back: send what it missed. */
  flush(nodeId: string): void {
    const map = this.pending.get(nodeId);
    if (!map) return;
    this.pending.delete(nodeId);
    for (const [sessionId, keep] of map) this.cancel(nodeId, sessionId, keep);
  }

  pendingFor(nodeId: string): string[] {
    return [...(this.pending.get(nodeId)?.keys() ?? [])];
  }

  /**
   * A task ended: the destination's agents remove its partial files and restart markers. An
   * endpoint with no agent connected now (killed, restarting), or whose agent drops the link
   * before it answers, is told when one is back (flushCleanups): partials a killed attempt left
   * have no one else to remove them (small files' have no record, so even the agent's
   * retention sweep misses them). Still best effort: kept in memory, like pending cancels.
   */
  cleanupTask(agentEndpointId: string, taskId: string): void {
    const nodes = this.hub.connectedNodes(agentEndpointId);
    if (nodes.length === 0) return this.cleanupLater(agentEndpointId, taskId);
    for (const { nodeId } of nodes) {
      this.hub.call(nodeId, { type: 'task.cleanup', taskId }, AnyResult, 'task.cleanup', this.timeoutMs).catch((err: unknown) => {
        if (isFerryError(err) && err.code === 'ExternalError.GCDisconnected') return this.cleanupLater(agentEndpointId, taskId);
        this.log.debug({ nodeId, taskId, reason: err instanceof Error ? err.message : String(err) }, 'task.cleanup not confirmed');
      });
    }
  }

  /** An agent of the endpoint is back: send the cleanups it missed. */
  flushCleanups(agentEndpointId: string): void {
    const tasks = this.pendingCleanups.get(agentEndpointId);
    if (!tasks) return;
    this.pendingCleanups.delete(agentEndpointId);
    for (const taskId of tasks) this.cleanupTask(agentEndpointId, taskId);
  }

  private cleanupLater(agentEndpointId: string, taskId: string): void {
    let tasks = this.pendingCleanups.get(agentEndpointId);
    if (!tasks) this.pendingCleanups.set(agentEndpointId, (tasks = new Set()));
    tasks.add(taskId);
  }
}

/** What the transfer and delete runners share with the orchestrator. */
export interface RunnerDeps {
  repo: TaskRepo;
  hub: TaskHub;
  log: Logger;
  now: () => number;
  limits: TaskLimits;
  transitions: TaskTransitions;
  runs: RunRegistry;
  cancels: SessionCanceller;
  /** Which agents serve each endpoint, and whose principals a task carries. */
  endpoints: TaskEndpoints;
  /** For fire-and-forget promises (safetyCatch). */
  onError: (err: unknown) => void;
}
