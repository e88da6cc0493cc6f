import type { Db } from './db.js';

/** A message waiting to be mailed (an access-rule notification). */
export interface OutboxRecord {
  id: number;
  kind: string;
  recipient: string;
  subject: string;
  body: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  sentAt: number | null;
  failedAt: number | null;
}

interface Row {
  id: number; kind: string; recipient: string; subject: string; body: string; created_at: number; attempts: number;
  next_attempt_at: number; last_error: string | null; sent_at: number | null; failed_at: number | null;
}

const toRecord = (r: Row): OutboxRecord => ({
  id: r.id, kind: r.kind, recipient: r.recipient, subject: r.subject, body: r.body, createdAt: r.created_at, attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at, lastError: r.last_error, sentAt: r.sent_at, failedAt: r.failed_at,
});

/**
 * The notification outbox: a message is recorded in the transaction that causes it, and a
 * mailer (when control has an SMTP server) sends it later, so a slow or absent mail server
 * never holds up or loses a REST request.
 */
export class OutboxRepo {
  constructor(private readonly db: Db) {}

  add(input: { kind: string; recipient: string; subject: string; body: string }, now = Date.now()): number {
    const r = this.db.prepare(`INSERT INTO notification_outbox (kind, recipient, subject, body, created_at, next_attempt_at)
      VALUES (?, ?, ?, ?, ?, ?)`).run(input.kind, input.recipient, input.subject, input.body, now, now);
    return Number(r.lastInsertRowid);
  }

  get(id: number): OutboxRecord | undefined {
    const row = this.db.prepare('SELECT * FROM notification_outbox WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** Unsent, not given-up messages whose next attempt is due, oldest first. */
  due(now: number, limit: number): OutboxRecord[] {
    return (this.db.prepare(`SELECT * FROM notification_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?
      ORDER BY id LIMIT ?`).all(now, limit) as Row[]).map(toRecord);
  }

  markSent(id: number, now = Date.now()): void {
    this.db.prepare('UPDATE notification_outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?').run(now, id);
  }

  /** Record a failed attempt: retry at `retryAt`, or give up (`retryAt` null). */
  markFailed(id: number, error: string, retryAt: number | null, now = Date.now()): void {
    this.db.prepare(`UPDATE notification_outbox SET attempts = attempts + 1, last_error = ?,
      next_attempt_at = COALESCE(?, next_attempt_at), failed_at = CASE WHEN ? IS NULL THEN ? ELSE NULL END WHERE id = ?`)
      .run(error.slice(0, 1000), retryAt, retryAt, now, id);
  }
}
