import { FerryError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { OpRequest, SessionSpec, SharingAck, SharingSnapshotMessage, SharingUpdateMessage } from '../../protocol/index.js';
import type { PathResolver } from '../../transfer/index.js';
import { createFileOps, runFileOp, type LsEntryBudget, type OwnerNames } from '../ops/index.js';
import type { PathPolicy } from '../policy/index.js';
import { createGuestPolicy, type GuestPolicy } from './guest-policy.js';
import type { SharingReplica } from './replica.js';

/**
 * The agent's sharing: keeps the replica in step with control's messages, and gives guest
 * requests (file operations and transfer sessions naming a guest collection) the collection's
 * view of the agent's policy. The host policy is read at each request, so a SIGHUP that drops
 * a root's `:share` stops its guest collections at once.
 */
export class AgentSharing {
  constructor(
    private readonly replica: SharingReplica,
    private readonly hostPolicy: () => PathPolicy,
    private readonly owners: OwnerNames,
    private readonly log: Logger,
    /** The agent's ls entry budget: guests' listings count against their identity's budget too. */
    private readonly lsBudget?: LsEntryBudget,
  ) {}

  /**
   * Applied at once (every later check reads the new rules); acknowledged once the guest writes
   * that older rules allowed have landed, so that nothing is committed after the ack under a
   * rule the change withdrew.
   */
  onMessage(m: SharingSnapshotMessage | SharingUpdateMessage): Promise<SharingAck> {
    const ack = m.type === 'sharing.snapshot' ? this.replica.applySnapshot(m) : this.replica.applyUpdate(m);
    return this.replica.writesSettled().then(() => ack);
  }

  /** The link to control went down: no guest request is served until the next snapshot. */
  linkDown(): void {
    this.replica.markStale();
  }

  /** The guest policy for requests naming collection `id`, once the replica is fresh; refused when it is not served here. */
  async policyFor(id: string, principals: OpRequest['principals']): Promise<GuestPolicy> {
    const entry = await this.replica.get(id);
    if (!entry) throw new FerryError('Sharing.CollectionRefused', `This endpoint does not serve guest collection ${id}`);
    const policy = createGuestPolicy({ host: this.hostPolicy(), collectionId: id, entry: () => this.replica.current(id), principals, holdWrite: () => this.replica.holdWrite() });
    // Checked once up front too (for any requester, whatever her rules), so a collection the
    // agent refuses is refused as such and logged where it is met.
    try {
      policy.checkServed();
    } catch (err) {
      if (err instanceof FerryError) this.log.warn({ collectionId: id, code: err.code, reason: err.message }, 'guest request refused: collection not served');
      throw err;
    }
    return policy;
  }

  async runOp(req: OpRequest): Promise<unknown> {
    const policy = await this.policyFor(req.endpointId, req.principals);
    return runFileOp(createFileOps(policy, { owners: this.owners, ...(this.lsBudget ? { lsBudget: this.lsBudget } : {}) }), req);
  }

  /** session.open naming a guest side: that side's paths are decided by the collection's policy. */
  async sessionResolver(spec: SessionSpec): Promise<PathResolver> {
    if (!spec.guest) return this.hostPolicy();
    return this.policyFor(spec.guest.collectionId, spec.guest.principals);
  }
}
