import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../common/logger.js';
import { FerryError, isFerryError, safetyCatch } from '../../common/errors.js';
import type { SessionOpenResult, SessionSpec, SessionStats } from '../../protocol/session.js';
import { applyCongestion, clearStreamKeys, congestionPlan, dialSession, tcpInfoOf, type ChannelCredentials, type DataListener } from '../../transfer/channel/index.js';
import { isLossBased } from '../../protocol/link.js';
import { eventCodeOf, isAgentStopping, runSession, type PathResolver, type StreamGrowthInit, type TransferTuning } from '../../transfer/index.js';
import type { SqliteMarkerStore } from '../../transfer/markers/store.js';
import type { PathPolicy } from '../policy/index.js';
import type { IdleCollector } from './idle-collect.js';
import { removeLeftoverPartials, removeTaskPartials, type CleanupDirOpener } from './partials.js';
import type { SessionNotice } from '../link/client.js';

const EMPTY_STATS: SessionStats = {
  files: 0, directories: 0, symlinks: 0, filesTransferred: 0, filesSkipped: 0,
  bytesTransferred: 0, bytesChecksummed: 0, bytesExpected: 0, faults: 0,
};

export interface SessionManagerInit {
  credentials: ChannelCredentials;
  /** null when this agent does not listen (it always dials). */
  listener: DataListener | null;
  /** host:port peers dial to reach `listener`. */
  advertisedAddress: string | null;
  /** The agent's policy now (it is replaced when the roots are reloaded). */
  resolver: () => PathPolicy;
  /**
   * How this session's paths are decided: the agent's policy, or for a guest side
   * (`spec.guest`) the guest collection's view of it. Rejects when the guest collection is not
   * served here; waits for a fresh sharing replica after a reconnect.
   */
  sessionResolver?: (spec: SessionSpec) => Promise<PathResolver>;
  notify: (notice: SessionNotice) => void;
  log: Logger;
  /** How long a session waits for its peer's data connections. */
  connectTimeoutMs?: number;
  /** Restart markers of this agent's destination sessions. */
  markers: SqliteMarkerStore;
  tuning: () => Partial<TransferTuning>;
  /** The agent config's transfer.congestionControl, read at session start ('auto' when absent). */
  congestion?: () => string;
  /** The agent config's transfer.forceEncryption: refuse clear-text sessions. */
  forceEncryption?: () => boolean;
  /** Told how many sessions run whenever that changes (the agent collects garbage once none has for a while). */
  idle?: IdleCollector;
}

/** Abort reasons that end a session but keep its partial files for the next attempt. */
export function keepingAbort(code: 'Transfer.AgentStopping' | 'ClientError.Conflict', message: string): FerryError {
  return new FerryError(code, message, { details: { keepPartials: true, ...(code === 'Transfer.AgentStopping' ? { eventCode: 'GC_NOT_CONNECTED' } : {}) } });
}

interface Running {
  spec: SessionSpec;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * Why a session failed, for session.done: the Ferry error code (control classifies by it, from
 * the one error catalog) and the Globus event code it is reported under.
 */
function failureOf(err: unknown, reason: unknown, canceled: boolean): { code: string; ferryCode: string } {
  if (isAgentStopping(reason)) return { code: 'GC_NOT_CONNECTED', ferryCode: 'Transfer.AgentStopping' };
  if (canceled) return { code: 'CANCELED', ferryCode: 'Transfer.Canceled' };
  if (isFerryError(err)) return { code: eventCodeOf(err), ferryCode: err.code };
  return { code: 'INTERNAL_ERROR', ferryCode: 'InternalError' };
}

/**
 * Runs this agent's side of transfer sessions: connects the data streams (listening or
 * dialing, as control decided), hands them to the transfer engine, and reports to control.
 * Keyed by session id and role, since one agent can be both ends of a same-endpoint copy.
 */
export class SessionManager {
  private readonly running = new Map<string, Running>();

  constructor(private readonly init: SessionManagerInit) {}

  async open(spec: SessionSpec): Promise<SessionOpenResult> {
    const key = `${spec.sessionId}:${spec.role}`;
    if (this.running.has(key)) {
      // control re-sent open (e.g. after a link blip): the session is already under way.
      return { address: spec.listen ? this.init.advertisedAddress : null };
    }
    const log = this.init.log.child({ sessionId: spec.sessionId, taskId: spec.taskId, role: spec.role });
    // Decided before anything is registered: a refused guest collection fails the open itself.
    const resolver = this.init.sessionResolver ? await this.init.sessionResolver(spec) : this.init.resolver();
    // encrypt_data false: data streams in clear text with a MAC per frame; absent means encrypted.
    const clear = spec.encryptData === false;
    if (clear && this.init.forceEncryption?.() === true) {
      throw new FerryError('ClientError.Conflict', "this agent's config forces encryption (transfer.forceEncryption): it runs no clear-text session");
    }
    const abort = new AbortController();
    // Spare streams (maxParallelism) are connected up front: the source puts them to work if the path proves loss-limited.
    const dataStreams = Math.max(spec.options.parallelism, spec.maxParallelism ?? 0);
    const expectation = { sessionId: spec.sessionId, peerNodeId: spec.peer.nodeId, secret: spec.secret, streams: dataStreams + 1, clear };
    const timeoutMs = this.init.connectTimeoutMs ?? 60_000;
    let streams: Promise<Socket[]>;
    if (spec.listen) {
      if (!this.init.listener || !this.init.advertisedAddress) {
        throw new FerryError('ClientError.Conflict', 'this agent does not listen for data connections (dataListen.enabled is false)');
      }
      // Registered before the reply, so the peer can dial as soon as control forwards the address.
      streams = this.init.listener.expect(expectation, { timeoutMs, signal: abort.signal });
    } else {
      if (!spec.peer.address) throw new FerryError('ClientError.BadRequest', 'session.open for the dialing side must name the peer address');
      streams = dialSession(this.init.credentials, spec.peer.address, expectation, { timeoutMs, signal: abort.signal });
    }
    // An earlier attempt of the same task may still be winding down here (control moved on
    // after losing the peer): it must be gone before this one touches the same partial files.
    const previous = [...this.running.values()].filter((r) => r.spec.taskId === spec.taskId && r.spec.role === spec.role && r.spec.sessionId !== spec.sessionId);
    for (const r of previous) r.abort.abort(keepingAbort('ClientError.Conflict', 'superseded by a newer attempt of the task'));
    const settled = Promise.all(previous.map((r) => r.done.catch(() => undefined)));
    const done = settled.then(() => this.run(spec, resolver, streams, abort, log)).finally(() => {
      this.running.delete(key);
      this.init.idle?.sessionsNow(this.running.size);
    });
    this.running.set(key, { spec, abort, done });
    this.init.idle?.sessionsNow(this.running.size);
    log.info({ listen: spec.listen, items: spec.items.length, parallelism: spec.options.parallelism }, 'session opened');
    return { address: spec.listen ? this.init.advertisedAddress : null };
  }

  private async run(spec: SessionSpec, resolver: PathResolver, pending: Promise<Socket[]>, abort: AbortController, log: Logger): Promise<void> {
    const notify = this.init.notify;
    let streams: Socket[] = [];
    try {
      const waited = Date.now();
      streams = await pending;
      // Before any bulk data: the algorithm decides what each stream carries on a lossy path.
      const plan = congestionPlan(this.init.congestion?.() ?? 'auto');
      const cc = applyCongestion(streams, plan);
      if (cc.refused !== undefined) log.warn({ wanted: plan.wanted, reason: cc.refused, congestion: cc.name }, 'congestion control not set; the streams keep the host default');
      const clear = spec.encryptData === false;
      // Only a task that wrote here before can have left partials here (its directories are
      // recorded before its first partial): a first attempt skips the sweep at its end.
      const sweepAtEnd = spec.role === 'destination' && this.init.markers.knowsTask(spec.taskId);
      log.info({ ms: Date.now() - waited, streams: streams.length, congestion: cc.name, why: plan.reason, encrypted: !clear }, 'data streams connected');
      const stats = await runSession({
        spec,
        streams,
        // Keys of the clear streams, from the TLS control stream's exported keying material (never logged).
        ...(clear ? { frameKeys: clearStreamKeys(spec.sessionId, !spec.listen, [streams[0] as TLSSocket, ...streams.slice(1)]) } : {}),
        resolver,
        signal: abort.signal,
        markers: this.init.markers,
        tuning: this.init.tuning(),
        // The source's spare streams, if any, grow only where loss can be what holds the streams back.
        ...(spec.role === 'source' && isLossBased(cc.name) ? { growth: this.streamGrowth(spec, cc.name, log) } : {}),
        reporter: {
          progress: (s) => notify({ type: 'session.progress', sessionId: spec.sessionId, stats: s }),
          filesDone: (files) => notify({ type: 'session.files', sessionId: spec.sessionId, files }),
          event: (event) => notify({ type: 'session.event', sessionId: spec.sessionId, event }),
        },
      });
      // Before session.done: once control has it the task can be SUCCEEDED, and what earlier
      // attempts left here must be gone by then (task.cleanup comes after, if this agent is there).
      if (sweepAtEnd) await this.removeLeftovers(spec.taskId, log);
      log.info({ bytes: stats.bytesTransferred, files: stats.filesTransferred }, 'session finished');
      notify({ type: 'session.done', sessionId: spec.sessionId, role: spec.role, ok: true, error: null, stats });
    } catch (err) {
      const canceled = abort.signal.aborted;
      const { code, ferryCode } = failureOf(err, abort.signal.reason, canceled);
      const message = err instanceof Error ? err.message : String(err);
      if (isFerryError(err) || canceled) log.warn({ code, reason: message }, 'session failed');
      else log.error({ err }, 'session crashed');
      notify({ type: 'session.done', sessionId: spec.sessionId, role: spec.role, ok: false, error: { code, ferryCode, message: message.slice(0, 4000) }, stats: { ...EMPTY_STATS } });
    } finally {
      for (const s of streams) s.destroy();
    }
  }

  /**
   * A destination session succeeded: remove the partials earlier attempts of its task left
   * (removeLeftoverPartials). Runs before this session's `done` settles, so a newer attempt of
   * the task waits for it (open) and no live session's partials are touched. Best effort: the
   * files are durable whatever happens here, and task.cleanup tries again when the task ends.
   */
  private async removeLeftovers(taskId: string, log: Logger): Promise<void> {
    try {
      const removed = await removeLeftoverPartials(this.init.markers, taskId, this.cleanupDirOpener());
      if (removed > 0) log.info({ removed }, 'removed partial files earlier attempts of the task left');
    } catch (err) {
      log.warn({ code: isFerryError(err) ? err.code : undefined, reason: err instanceof Error ? err.message : String(err) }, 'could not remove partial files earlier attempts left; task.cleanup removes them');
    }
  }

  /** The source's spare streams go to work on loss (transfer/session/stream-growth.ts); each step is logged and told to the task. */
  private streamGrowth(spec: SessionSpec, congestion: string | null, log: Logger): StreamGrowthInit {
    return {
      probe: (socket) => tcpInfoOf(socket as Socket),
      grown: (active, why) => {
        const figures = { parallelism: active, congestion, lossPercent: Number((why.lossRatio * 100).toFixed(3)), cwndLimitedPercent: Math.round(why.cwndLimitedShare * 100) };
        log.info(figures, 'data stream added: the running ones were loss-limited');
        this.init.notify({
          type: 'session.event', sessionId: spec.sessionId,
          event: { code: 'STREAMS_ADDED', isError: false, description: `data streams now ${active}: the running ones were loss-limited`, details: JSON.stringify(figures) },
        });
      },
    };
  }

  /** control ends a session: the task is over (partials go), or only this attempt (`keepPartials`). */
  async cancel(sessionId: string, keepPartials = false): Promise<void> {
    const mine = [...this.running.values()].filter((r) => r.spec.sessionId === sessionId);
    for (const r of mine) r.abort.abort(keepPartials ? keepingAbort('ClientError.Conflict', 'attempt ended by control') : new FerryError('ClientError.Conflict', 'canceled by control'));
    await Promise.all(mine.map((r) => r.done.catch(safetyCatch(() => {}))));
  }

  /** The task ended: stop what still runs for it, then remove its partial files and records. */
  async cleanupTask(taskId: string): Promise<void> {
    const mine = [...this.running.values()].filter((r) => r.spec.taskId === taskId);
    for (const r of mine) r.abort.abort(new FerryError('ClientError.Conflict', 'the task ended'));
    await Promise.all(mine.map((r) => r.done.catch(safetyCatch(() => {}))));
    const removed = await removeTaskPartials(this.init.markers, taskId, this.cleanupDirOpener());
    if (removed > 0) this.init.log.info({ taskId, removed }, 'removed partial files of an ended task');
  }

  /** Directories partials are removed in: checked, by the current policy, to lie in a writable root. */
  private cleanupDirOpener(): CleanupDirOpener {
    const policy = this.init.resolver();
    return (d) => policy.openWritableHostDir(d);
  }

  /**
   * SIGTERM: checkpoint every session (partials flushed, markers written), tell the peers this
   * agent is stopping (they end their side and the task waits for this agent), and return.
   */
  async close(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.abort.abort(keepingAbort('Transfer.AgentStopping', 'the agent is shutting down; the transfer resumes when it is back'));
    await Promise.all(all.map((r) => r.done.catch(safetyCatch(() => {}))));
    this.init.idle?.cancel();
    this.init.markers.flush();
  }
}
