import type { Db } from './db.js';

export interface NodeRecord {
  id: string;
  endpointId: string;
  hostname: string;
  certFingerprint: string;
  certSerial: string;
  certNotAfter: number;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string; endpoint_id: string; hostname: string; cert_fingerprint: string; cert_serial: string;
  cert_not_after: number; created_at: number; last_seen_at: number | null; revoked_at: number | null;
}

const toRecord = (r: Row): NodeRecord => ({
  id: r.id, endpointId: r.endpoint_id, hostname: r.hostname, certFingerprint: r.cert_fingerprint, certSerial: r.cert_serial,
  certNotAfter: r.cert_not_after, createdAt: r.created_at, lastSeenAt: r.last_seen_at, revokedAt: r.revoked_at,
});

/** Agent nodes, each known by the fingerprint of the certificate control issued it. */
export class NodeRepo {
  constructor(private readonly db: Db) {}

  create(rec: Omit<NodeRecord, 'createdAt' | 'lastSeenAt' | 'revokedAt'>, now = Date.now()): NodeRecord {
    this.db.prepare(`INSERT INTO nodes (id, endpoint_id, hostname, cert_fingerprint, cert_serial, cert_not_after, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`).run(rec.id, rec.endpointId, rec.hostname, rec.certFingerprint, rec.certSerial, rec.certNotAfter, now);
    return { ...rec, createdAt: now, lastSeenAt: null, revokedAt: null };
  }

  byFingerprint(fingerprint: string): NodeRecord | undefined {
    const row = this.db.prepare('SELECT * FROM nodes WHERE cert_fingerprint = ?').get(fingerprint) as Row | undefined;
    return row && toRecord(row);
  }

  byEndpoint(endpointId: string): NodeRecord[] {
    return (this.db.prepare('SELECT * FROM nodes WHERE endpoint_id = ? ORDER BY created_at').all(endpointId) as Row[]).map(toRecord);
  }

  touch(id: string, now = Date.now()): void {
    this.db.prepare('UPDATE nodes SET last_seen_at = ? WHERE id = ?').run(now, id);
  }

  revokeForEndpoint(endpointId: string, now = Date.now()): string[] {
    const ids = (this.db.prepare('SELECT id FROM nodes WHERE endpoint_id = ? AND revoked_at IS NULL').all(endpointId) as { id: string }[]).map((r) => r.id);
    this.db.prepare('UPDATE nodes SET revoked_at = ? WHERE endpoint_id = ? AND revoked_at IS NULL').run(now, endpointId);
    return ids;
  }
}
