import { cachedStatement, type Db } from './db.js';

/**
 * The version of a host endpoint's sharing rules (its guest collections, their rules and
 * managers) that its agents replicate. It only grows; every change bumps it in the same
 * transaction as the change, so a version names exactly one state.
 */
export class SharingVersionRepo {
  constructor(private readonly db: Db) {}

  current(hostEndpointId: string): number {
    const row = cachedStatement(this.db, 'SELECT version FROM sharing_versions WHERE host_endpoint_id = ?').get(hostEndpointId) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  /** Add one and return `{ baseVersion, version }`; call inside the change's transaction. */
  bump(hostEndpointId: string): { baseVersion: number; version: number } {
    const row = this.db.prepare(`INSERT INTO sharing_versions (host_endpoint_id, version) VALUES (?, 1)
      ON CONFLICT(host_endpoint_id) DO UPDATE SET version = version + 1 RETURNING version`).get(hostEndpointId) as { version: number };
    return { baseVersion: row.version - 1, version: row.version };
  }
}
