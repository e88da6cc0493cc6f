import type { ControlStore } from '../store/index.js';
import type { SharingPublisher } from './publisher.js';
import { guestCollectionOf } from './snapshot.js';

/** What a change touched: collections to send whole, and collections gone for good. */
export interface Touched {
  changed?: readonly string[];
  removed?: readonly string[];
}

/**
 * Every change to sharing state goes through `commit`: the change and the bump of its host's
 * version happen in one transaction (a version names exactly one state), and only after the
 * commit are the touched collections published to the host's agents.
 */
export class SharingService {
  constructor(
    readonly store: ControlStore,
    private readonly publisher: Pick<SharingPublisher, 'publish'> | undefined,
    /** Told when the outbox gained a message (the mailer sends it soon). */
    private readonly onOutbox: () => void = () => {},
  ) {}

  /** `touched` may be computed from the mutation's result (a collection just created). */
  commit<T>(hostEndpointId: string, what: string, touchedOrFn: Touched | ((result: T) => Touched), mutate: () => T): T {
    const { result, change } = this.store.db.transaction(() => {
      const result = mutate();
      const touched = typeof touchedOrFn === 'function' ? touchedOrFn(result) : touchedOrFn;
      const { baseVersion, version } = this.store.sharingVersions.bump(hostEndpointId);
      const removed = new Set(touched.removed ?? []);
      const collections = [];
      for (const id of new Set(touched.changed ?? [])) {
        const guest = this.store.endpoints.get(id);
        if (!guest || guest.hostEndpointId !== hostEndpointId || guest.deletedAt !== null) removed.add(id);
        else collections.push(guestCollectionOf(this.store, guest));
      }
      return { result, change: { hostEndpointId, baseVersion, version, collections, removed: [...removed], what } };
    }).immediate();
    this.publisher?.publish(change);
    return result;
  }

  /** A message was recorded in the outbox. */
  outboxChanged(): void {
    this.onOutbox();
  }
}
