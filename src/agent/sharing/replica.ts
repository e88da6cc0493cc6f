import { FerryError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { GuestCollection, SharingAck, SharingSnapshotMessage, SharingUpdateMessage } from '../../protocol/index.js';
import { ruleComponents, type CompiledRule } from './access.js';
import type { ReplicaStore } from './replica-store.js';

/** A guest collection as the agent applies it: its rules compiled, the ones it refuses left out. */
export interface ReplicaEntry {
  readonly collection: GuestCollection;
  readonly rules: readonly CompiledRule[];
}

/** How long a guest request waits for control's snapshot after a (re)connect before it is refused. */
export const DEFAULT_FRESH_WAIT_MS = 10_000;

/**
 * The agent's replica of the sharing rules of the guest collections it hosts. Control sends a
 * snapshot after every hello and updates after every change (src/protocol/sharing.ts); the
 * replica is "fresh" only between a snapshot and the next loss of the link, and guest requests
 * are served only while it is fresh, so an agent that reconnects never decides from rules that
 * may have changed while it was away.
 */
export class SharingReplica {
  private version = 0;
  private entries = new Map<string, ReplicaEntry>();
  private fresh = false;
  private waiters: Array<() => void> = [];
  /** Bumped by every applied snapshot or update: a write held in epoch e was allowed by the rules of e. */
  private epoch = 0;
  /** Guest writes allowed and still landing, by the epoch whose rules allowed them. */
  private readonly writing = new Map<number, number>();
  private settleWaiters: Array<{ before: number; done: () => void }> = [];

  constructor(private readonly store: ReplicaStore | null, private readonly log: Logger) {
    if (store) {
      const stored = store.load();
      this.version = stored.version;
      for (const c of stored.collections) this.entries.set(c.id, this.compile(c, false));
    }
  }

  get currentVersion(): number {
    return this.version;
  }

  get isFresh(): boolean {
    return this.fresh;
  }

  /** The link to control is down: rules may change unseen until the next snapshot. */
  markStale(): void {
    this.fresh = false;
  }

  applySnapshot(m: SharingSnapshotMessage): SharingAck {
    const next = new Map<string, ReplicaEntry>();
    for (const c of m.collections) next.set(c.id, this.compile(c, true));
    this.entries = next;
    this.version = m.version;
    this.epoch += 1;
    this.persist();
    this.log.info({ version: m.version, collections: next.size, rules: countRules(next) }, 'sharing snapshot applied');
    this.becomeFresh();
    return { version: this.version };
  }

  applyUpdate(m: SharingUpdateMessage): SharingAck {
    if (!this.fresh || m.baseVersion !== this.version) {
      throw new FerryError('Sharing.VersionGap', `sharing update from version ${m.baseVersion} does not follow this agent's version ${this.version}${this.fresh ? '' : ' (no snapshot since the link came up)'}`);
    }
    for (const id of m.removed) this.entries.delete(id);
    for (const c of m.collections) this.entries.set(c.id, this.compile(c, true));
    this.version = m.version;
    this.epoch += 1;
    this.persist();
    this.log.info({ version: m.version, changed: m.collections.map((c) => c.id), removed: m.removed }, 'sharing update applied');
    return { version: this.version };
  }

  /**
   * A guest write (a transfer's commit of files) about to be checked against the rules as they
   * are now and then made durable: held until the returned function is called. The rules are
   * read synchronously, so every write held in an epoch was allowed by that epoch's rules.
   */
  holdWrite(): () => void {
    const e = this.epoch;
    this.writing.set(e, (this.writing.get(e) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.writing.get(e)! - 1;
      if (left === 0) this.writing.delete(e);
      else this.writing.set(e, left);
      this.settleWaiters = this.settleWaiters.filter((w) => {
        if (this.writingBefore(w.before)) return true;
        w.done();
        return false;
      });
    };
  }

  /**
   * Resolves once no write allowed by rules older than the ones applied last is still landing.
   * The agent acknowledges a snapshot or update only then: after the ack, nothing the change
   * withdrew is committed (a write allowed before it lands before the ack, or not at all).
   */
  writesSettled(): Promise<void> {
    const before = this.epoch;
    if (!this.writingBefore(before)) return Promise.resolve();
    return new Promise((done) => this.settleWaiters.push({ before, done }));
  }

  private writingBefore(epoch: number): boolean {
    for (const e of this.writing.keys()) if (e < epoch) return true;
    return false;
  }

  /** The collection, once the replica is fresh (waits up to `timeoutMs` after a reconnect); undefined when unknown. */
  async get(id: string, timeoutMs = DEFAULT_FRESH_WAIT_MS): Promise<ReplicaEntry | undefined> {
    if (!this.fresh) await this.whenFresh(timeoutMs);
    return this.entries.get(id);
  }

  /** The collection as the replica holds it now (sessions re-check each file against this). */
  current(id: string): ReplicaEntry | undefined {
    return this.fresh ? this.entries.get(id) : undefined;
  }

  private whenFresh(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new FerryError('Sharing.ReplicaStale', 'this agent has not yet received the current sharing rules from control; retry shortly'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  private becomeFresh(): void {
    this.fresh = true;
    for (const w of this.waiters.splice(0)) w();
  }

  private compile(c: GuestCollection, logRefusals: boolean): ReplicaEntry {
    const rules: CompiledRule[] = [];
    for (const rule of c.rules) {
      const components = ruleComponents(rule.path);
      if (components === null) {
        if (logRefusals) this.log.warn({ collectionId: c.id, ruleId: rule.id }, 'access rule refused: its path is not a clean absolute path inside the collection');
        continue;
      }
      rules.push({ rule, components });
    }
    return { collection: c, rules };
  }

  private persist(): void {
    try {
      this.store?.save({ version: this.version, collections: [...this.entries.values()].map((e) => e.collection) });
    } catch (err) {
      // The replica in memory is what decides; a failed save only costs the copy kept for restarts.
      this.log.error({ reason: (err as Error).message }, 'could not save the sharing replica');
    }
  }
}

function countRules(entries: ReadonlyMap<string, ReplicaEntry>): number {
  let n = 0;
  for (const e of entries.values()) n += e.rules.length;
  return n;
}
