import { FerryError } from '../../common/errors.js';
import { newId, newSecret } from '../../common/ids.js';
import {
  SessionOpenResult, type FilterRule, type SessionDoneMessage, type SessionRole, type SessionSpec,
} from '../../protocol/index.js';
import type { SessionNotice } from '../hub/hub.js';
import type { TaskPatch, TransferTaskRecord } from '../store/tasks.js';
import type { EndpointRoute } from './endpoints.js';
import { agentsAllowClear } from './encryption.js';
import { spareStreamLimit } from './parallelism.js';
import { classifyError, classifySessionError, type Failure } from './failures.js';
import type { RunnerDeps, TransferRun } from './runs.js';

type Node = ReturnType<RunnerDeps['hub']['connectedNodes']>[number];
type Served = Exclude<EndpointRoute, { refused: string }>;
const reachable = (n: Node): boolean => (n.hello?.dataAddresses.length ?? 0) > 0;

/** The stored rules in the session's shape (no DATA_TYPE), or undefined when the task has none. */
function sessionFilterRules(rules: TransferTaskRecord['options']['filterRules']): FilterRule[] | undefined {
  if (!rules || rules.length === 0) return undefined;
  return rules.map((r) => ({ method: r.method, name: r.name, ...(r.type ? { type: r.type } : {}) }));
}

/**
 * Runs a transfer task as a session between its source and destination agents: opens it
 * (listening side first), turns the agents' notices into task counters, events and
 * successful transfers, and ends the attempt on success, failure or a lost agent.
 */
export class TransferRunner {
  constructor(private readonly d: RunnerDeps) {}

  /** An endpoint's agent to use, preferring one that peers can reach (and, for a guest collection, one that speaks sharing). */
  private pick(route: Served): Node | undefined {
    let nodes = this.d.hub.connectedNodes(route.agentEndpointId);
    if (route.collectionId !== null) nodes = nodes.filter((n) => n.hello?.capabilities?.includes('sharing') === true);
    return nodes.find(reachable) ?? nodes[0];
  }

  start(t: TransferTaskRecord): void {
    const srcRoute = this.d.endpoints.route(t.sourceEndpointId);
    const dstRoute = this.d.endpoints.route(t.destinationEndpointId!);
    if ('refused' in srcRoute || 'refused' in dstRoute) {
      const why = 'refused' in srcRoute ? `source: ${srcRoute.refused}` : `destination: ${(dstRoute as { refused: string }).refused}`;
      this.d.transitions.fail(t.id, 'PERMISSION_DENIED', `Sharing.CollectionRefused: ${why}`);
      return;
    }
    const src = this.pick(srcRoute);
    const dst = t.destinationEndpointId === t.sourceEndpointId ? src : this.pick(dstRoute);
    if (!src || !dst) {
      const which = !src && !dst ? 'source and destination endpoints have' : !src ? 'source endpoint has' : 'destination endpoint has';
      this.d.transitions.waiting(t, 'GC_NOT_CONNECTED', `The ${which} no connected agent; the task resumes when it connects`);
      return;
    }
    // The destination listens when it can be reached, else the source; one of them must.
    const listenRole: SessionRole | undefined = reachable(dst) ? 'destination' : reachable(src) ? 'source' : undefined;
    if (!listenRole) {
      this.d.transitions.waiting(t, 'CONNECT_FAILED', 'Neither agent accepts data connections (no data addresses); at least one side must listen');
      return;
    }
    const run: TransferRun = {
      kind: 'transfer', taskId: t.id, sessionId: newId(), sourceNode: src.nodeId, destinationNode: dst.nodeId, phase: 'opening',
      done: {}, lastNoticeAt: this.d.now(), bytesAtError: null, progressed: false, failOnQuotaErrors: t.options.session.failOnQuotaErrors,
    };
    // Clear text only if the task asked for it, no endpoint forces encryption, and both agents can and may.
    const encrypt = t.options.encryptData
      || (this.d.endpoints.forcesEncryption?.([t.sourceEndpointId, t.destinationEndpointId!]) ?? false)
      || !agentsAllowClear([src.hello?.capabilities, dst.hello?.capabilities]);
    if (encrypt && !t.options.encryptData) this.d.repo.markEncrypted(t.id);
    this.d.runs.add(run);
    this.d.repo.apply(t.id, { attempts: t.attempts + 1, session: { sessionId: run.sessionId, sourceNode: run.sourceNode, destinationNode: run.destinationNode } });
    // The submitter's principals as they are now (groups joined or left since submission count).
    const guestOf = (route: Served): SessionSpec['guest'] => (route.collectionId === null ? undefined : { collectionId: route.collectionId, principals: this.d.endpoints.principals(t.ownerId, route.collectionId) });
    const maxParallelism = spareStreamLimit(t.options, src.hello?.capabilities);
    this.open(t, run, listenRole, { source: guestOf(srcRoute), destination: guestOf(dstRoute) }, encrypt, maxParallelism).catch(this.d.onError);
  }

  private async open(
    t: TransferTaskRecord, run: TransferRun, listenRole: SessionRole, guests: Record<SessionRole, SessionSpec['guest']>, encrypt: boolean, maxParallelism: number | undefined,
  ): Promise<void> {
    const secret = newSecret();
    const nodeOf = (role: SessionRole) => (role === 'source' ? run.sourceNode : run.destinationNode);
    const dialRole: SessionRole = listenRole === 'source' ? 'destination' : 'source';
    const filterRules = sessionFilterRules(t.options.filterRules);
    const spec = (role: SessionRole, listen: boolean, address: string | null): SessionSpec => ({
      sessionId: run.sessionId, taskId: t.id, role, listen, secret, items: t.items, options: t.options.session,
      peer: { nodeId: nodeOf(role === 'source' ? 'destination' : 'source'), address },
      // Only when false: agents that predate the field take encrypted sessions unchanged.
      ...(encrypt ? {} : { encryptData: false }),
      // Both sides connect the spare streams; only the source decides when they carry data.
      ...(maxParallelism === undefined ? {} : { maxParallelism }),
      // Both sides: the source leaves excluded entries out, the destination spares excluded extras.
      ...(filterRules ? { filterRules } : {}),
      // A guest collection side: its agent decides every path from the collection's rules.
      ...(guests[role] ? { guest: guests[role] } : {}),
    });
    const timeout = this.d.limits.sessionOpenTimeoutMs;
    try {
      const listening = await this.d.hub.call(nodeOf(listenRole), { type: 'session.open', session: spec(listenRole, true, null) }, SessionOpenResult, 'session.open', timeout) as SessionOpenResult;
      if (!this.d.runs.isCurrent(run)) return;
      if (listening.address === null) throw new FerryError('InternalError', 'ENDPOINT_ERROR: the listening agent did not say where to reach it');
      await this.d.hub.call(nodeOf(dialRole), { type: 'session.open', session: spec(dialRole, false, listening.address) }, SessionOpenResult, 'session.open', timeout);
      if (!this.d.runs.isCurrent(run)) return;
      run.phase = 'running';
      run.lastNoticeAt = this.d.now();
      this.d.transitions.started(t.id, { type: 'Ferry Transfer', concurrency: 1, parallelism: t.options.session.parallelism });
    } catch (err) {
      if (!this.d.runs.isCurrent(run)) return;
      this.abort(run, classifyError(err, { failOnQuotaErrors: run.failOnQuotaErrors }));
    }
  }

  onNotice(run: TransferRun, nodeId: string, notice: SessionNotice): void {
    if (nodeId !== run.sourceNode && nodeId !== run.destinationNode) {
      this.d.log.warn({ taskId: run.taskId, sessionId: run.sessionId, nodeId }, 'session notice from a node that is not part of the session; ignored');
      return;
    }
    run.lastNoticeAt = this.d.now();
    switch (notice.type) {
      case 'session.progress': {
        // The destination is the one that knows what is durable.
        if (nodeId !== run.destinationNode) return;
        const s = notice.stats;
        const patch: TaskPatch = { statsCur: s };
        if (!run.progressed && (s.bytesTransferred > 0 || s.filesTransferred > 0 || s.filesSkipped > 0)) {
          run.progressed = true;
          patch.failures = 0;
        }
        if (run.bytesAtError !== null && s.bytesTransferred > run.bytesAtError) {
          run.bytesAtError = null;
          patch.niceStatus = 'OK';
          patch.niceStatusDescription = 'OK';
        }
        this.d.repo.apply(run.taskId, patch);
        return;
      }
      case 'session.files':
        if (nodeId === run.destinationNode) this.d.repo.addSuccessful(run.taskId, notice.files);
        return;
      case 'session.event': {
        const e = notice.event;
        const patch: TaskPatch = {};
        if (e.isError) {
          patch.niceStatus = e.code;
          patch.niceStatusDescription = e.description;
          run.bytesAtError = this.d.repo.get(run.taskId)?.statsCur?.bytesTransferred ?? 0;
        }
        this.d.repo.apply(run.taskId, patch, [{ time: this.d.now(), code: e.code, isError: e.isError, description: e.description, details: e.details }]);
        return;
      }
      case 'session.done':
        return this.onDone(run, nodeId, notice);
    }
  }

  private onDone(run: TransferRun, nodeId: string, notice: SessionDoneMessage): void {
    if (nodeId !== (notice.role === 'source' ? run.sourceNode : run.destinationNode)) {
      this.d.log.warn({ taskId: run.taskId, nodeId, role: notice.role }, 'session.done for a role this node does not play; ignored');
      return;
    }
    run.done[notice.role] = true;
    if (!notice.ok) {
      const err = notice.error ?? { code: 'UNKNOWN', message: 'the session failed without saying why' };
      this.abort(run, classifySessionError(err, `${notice.role}: ${err.message}`, { failOnQuotaErrors: run.failOnQuotaErrors }));
      return;
    }
    // A failed side reports zeroed stats; only a successful destination's are the final counts.
    if (notice.role === 'destination') this.d.repo.apply(run.taskId, { statsCur: notice.stats });
    if (run.done.source && run.done.destination) {
      this.d.runs.remove(run);
      this.d.transitions.succeed(run.taskId);
    }
  }

  /** Stop the session on the agents that are still running it (cancel, expiry, failure). */
  stop(run: TransferRun, keepPartials = false): void {
    this.d.runs.remove(run);
    const nodes = new Set<string>();
    if (!run.done.source) nodes.add(run.sourceNode);
    if (!run.done.destination) nodes.add(run.destinationNode);
    for (const n of nodes) this.d.cancels.cancel(n, run.sessionId, keepPartials);
  }

  /** End this attempt: fail the task, or retry it (at once when only an agent was lost) from its restart markers. */
  abort(run: TransferRun, failure: Failure): void {
    this.stop(run, failure.action !== 'fail');
    this.d.log.info({ taskId: run.taskId, sessionId: run.sessionId, code: failure.code, action: failure.action, reason: failure.message }, 'transfer attempt ended');
    if (failure.action === 'fail') this.d.transitions.fail(run.taskId, failure.code, failure.message);
    else this.d.transitions.retry(run.taskId, failure, { fault: true, backoff: failure.action === 'retry' });
  }

  /** An agent dropped its link: sessions it took part in (and had not finished) are lost. */
  agentGone(nodeId: string): void {
    for (const run of this.d.runs.transfers()) {
      const inIt = (run.sourceNode === nodeId && !run.done.source) || (run.destinationNode === nodeId && !run.done.destination);
      if (!inIt) continue;
      this.abort(run, { code: 'GC_NOT_CONNECTED', message: 'An agent of this transfer disconnected during the session; it restarts when the agent is back', action: 'wait' });
    }
  }
}
