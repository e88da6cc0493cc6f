import { FerryError } from '../../common/errors.js';

/** Seconds a caller refused by the budget is asked to wait (control turns it into Retry-After). */
export const LS_BUDGET_RETRY_AFTER_SECONDS = 1;

/**
 * Entries one identity's `ls` operations may hold at once on this agent (`limits.lsEntriesPerUser`).
 * Control already caps the operations a caller has in flight, but at its defaults that still let
 * one user run four listings of 100,000 entries at once on one agent (measured: 1.1 GB of agent
 * RSS, against 0.4 GB for one). An agent serving several controls' worth of users (guest
 * collections) must bound this itself: it is the one that pays the memory.
 *
 * A listing reserves its entry count once the directory has been read (the names cost little;
 * the file documents built next and their serialisation are what costs), and gives it back when
 * the listing is done. A reservation that would go past the budget while others of the same
 * identity are held is refused at once with 429 ClientError.TooManyRequests (no queue: a queue
 * would hold the requests' memory just the same); a lone listing always runs (it is bounded by
 * the per-listing cap, MAX_LS_ENTRIES), so a budget below that cap cannot make a large
 * directory unlistable.
 */
export class LsEntryBudget {
  private readonly held = new Map<string, number>();

  /** Changed by a SIGHUP reload; reservations held keep counting against the new value. */
  constructor(public perUser: number) {}

  /** Reserve `entries` for `who`; returns the release (idempotent), or throws ClientError.TooManyRequests. */
  reserve(who: string, entries: number): () => void {
    const now = this.held.get(who) ?? 0;
    if (now > 0 && now + entries > this.perUser) {
      throw new FerryError('ClientError.TooManyRequests',
        `Your listings in progress on this endpoint already hold ${now} entries; this one has ${entries} more `
        + `(the endpoint's limit is ${this.perUser} a user at once); retry when one has finished`,
        { details: { retryAfterSeconds: LS_BUDGET_RETRY_AFTER_SECONDS } });
    }
    this.held.set(who, now + entries);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(who) ?? entries) - entries;
      if (left <= 0) this.held.delete(who);
      else this.held.set(who, left);
    };
  }

  /** Entries `who` holds now (tests). */
  holding(who: string): number {
    return this.held.get(who) ?? 0;
  }
}
