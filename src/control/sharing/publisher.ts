import { isFerryError, safetyCatch } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { SharingAck, type GuestCollection } from '../../protocol/index.js';
import type { AgentConnection } from '../hub/connection.js';
import type { AgentHub } from '../hub/hub.js';
import type { ControlStore } from '../store/index.js';
import { hostSnapshot } from './snapshot.js';

/** One committed change of a host's sharing rules, as its agents receive it. */
export interface SharingChange {
  hostEndpointId: string;
  baseVersion: number;
  version: number;
  collections: GuestCollection[];
  removed: string[];
  /** What changed, for the log ('rule created', 'collection deleted', …). */
  what: string;
}

/**
 * Keeps the agents' replicas of the sharing rules current (src/protocol/sharing.ts): a whole
 * snapshot to every agent that speaks sharing, right after its hello and before anything else
 * on its socket; then an update per committed change to every connected node of the host. A
 * node that refuses an update (Sharing.VersionGap), answers another version, or does not ack
 * in time gets a snapshot instead. The agent decides every guest request from its replica.
 */
export class SharingPublisher {
  private readonly onError: (err: unknown) => void;

  constructor(
    private readonly store: ControlStore,
    private readonly hub: Pick<AgentHub, 'addReadyHook' | 'connectedNodes'>,
    private readonly log: Logger,
    /** How long an agent has to ack a snapshot or update; undefined: the link's op timeout. */
    private readonly ackTimeoutMs?: number,
  ) {
    this.onError = safetyCatch((err) => this.log.error({ err }, 'sharing publish failed'));
  }

  /** Send snapshots on every hello from now on. */
  open(): void {
    this.hub.addReadyHook((conn) => {
      if (conn.supports('sharing')) this.sendSnapshot(conn, 'hello');
    });
  }

  /** Send a committed change to every connected sharing node of its host. */
  publish(change: SharingChange): void {
    const nodes = this.hub.connectedNodes(change.hostEndpointId).filter((c) => c.supports('sharing'));
    this.log.info({
      hostEndpointId: change.hostEndpointId, baseVersion: change.baseVersion, version: change.version, change: change.what,
      collections: change.collections.map((c) => c.id), removed: change.removed, nodes: nodes.map((n) => n.nodeId),
    }, 'sharing update published');
    const message = { type: 'sharing.update', baseVersion: change.baseVersion, version: change.version, collections: change.collections, removed: change.removed };
    for (const conn of nodes) {
      conn.call(message, SharingAck, 'sharing.update', this.ackTimeoutMs)
        .then((ack) => this.acked(conn, ack as SharingAck, change.version, 'sharing.update'))
        .catch((err: unknown) => this.refused(conn, err, 'sharing.update'))
        .catch(this.onError);
    }
  }

  /** Send `conn` every guest collection of its endpoint and the host's current version. */
  sendSnapshot(conn: AgentConnection, reason: string): void {
    const snap = hostSnapshot(this.store, conn.endpointId);
    this.log.info({ hostEndpointId: conn.endpointId, nodeId: conn.nodeId, version: snap.version, collections: snap.collections.length, reason }, 'sharing snapshot sent');
    conn.call({ type: 'sharing.snapshot', version: snap.version, collections: snap.collections }, SharingAck, 'sharing.snapshot', this.ackTimeoutMs)
      .then((ack) => this.acked(conn, ack as SharingAck, snap.version, 'sharing.snapshot'))
      .catch((err: unknown) => this.refused(conn, err, 'sharing.snapshot'))
      .catch(this.onError);
  }

  private acked(conn: AgentConnection, ack: SharingAck, sent: number, what: string): void {
    // Acks arrive in order; never move the view backwards because of a late one.
    if (conn.sharingVersion === undefined || ack.version >= conn.sharingVersion) conn.sharingVersion = ack.version;
    this.log.info({ hostEndpointId: conn.endpointId, nodeId: conn.nodeId, version: ack.version, what }, 'sharing acked');
    if (ack.version < sent) this.resync(conn, `acked version ${ack.version} after ${what} of version ${sent}`);
  }

  private refused(conn: AgentConnection, err: unknown, what: string): void {
    const code = isFerryError(err) ? err.code : 'InternalError';
    // A dropped link gets a snapshot with its next hello.
    if (code === 'ExternalError.GCDisconnected' || code === 'Link.Closed') return;
    this.log.warn({ hostEndpointId: conn.endpointId, nodeId: conn.nodeId, code, reason: err instanceof Error ? err.message : String(err), what }, 'sharing message not acked');
    // A refused or unanswered snapshot would fare no better sent again: the next hello retries it.
    if (what === 'sharing.snapshot') return;
    this.resync(conn, code);
  }

  private resync(conn: AgentConnection, reason: string): void {
    if (!conn.ready) return;
    this.sendSnapshot(conn, reason);
  }
}
