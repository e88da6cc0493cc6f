import { createTransport } from 'nodemailer';
import { safetyCatch } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ControlConfig } from '../config.js';
import type { OutboxRepo } from '../store/outbox.js';

export type SmtpConfig = NonNullable<ControlConfig['smtp']>;

/** Sends one message; rejects when the mail server refuses it or cannot be reached. */
export interface MailTransport {
  send(message: { from: string; to: string; subject: string; text: string }): Promise<void>;
  close(): void;
}

/** An SMTP transport from control's config (nodemailer). */
export function smtpTransport(cfg: SmtpConfig): MailTransport {
  const transport = createTransport({
    host: cfg.host, port: cfg.port, secure: cfg.secure,
    ...(cfg.user !== undefined ? { auth: { user: cfg.user, pass: cfg.password ?? '' } } : {}),
    connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000,
  });
  return {
    send: async (m) => { await transport.sendMail(m); },
    close: () => transport.close(),
  };
}

export interface MailerLimits {
  retryInitialMs: number;
  maxAttempts: number;
  pollMs: number;
  /** Messages taken from the outbox per pass. */
  batch: number;
}

/**
 * Drains the notification outbox: sends due messages one by one, marks them sent, and on
 * failure schedules a retry with doubling delay until `maxAttempts`, then gives the message up
 * (it stays in the outbox with its last error). Runs when told a message was added and every
 * `pollMs`; one pass at a time.
 */
export class OutboxMailer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly onError: (err: unknown) => void;

  constructor(
    private readonly outbox: OutboxRepo,
    private readonly transport: MailTransport,
    private readonly from: string,
    private readonly limits: MailerLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.onError = safetyCatch((err) => this.log.error({ err }, 'outbox pass failed'));
  }

  open(): void {
    this.timer = setInterval(() => this.kick(), this.limits.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Send what is due now (or right after the pass in progress). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().catch(this.onError).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
    this.transport.close();
  }

  private async drain(): Promise<void> {
    for (const m of this.outbox.due(this.now(), this.limits.batch)) {
      if (this.closed) return;
      try {
        await this.transport.send({ from: this.from, to: m.recipient, subject: m.subject, text: m.body });
        this.outbox.markSent(m.id, this.now());
        this.log.info({ outboxId: m.id, kind: m.kind, attempts: m.attempts + 1 }, 'notification sent');
      } catch (err) {
        const attempts = m.attempts + 1;
        const retryAt = attempts >= this.limits.maxAttempts ? null : this.now() + this.limits.retryInitialMs * 2 ** (attempts - 1);
        const reason = err instanceof Error ? err.message : String(err);
        this.outbox.markFailed(m.id, reason, retryAt, this.now());
        this.log.warn({ outboxId: m.id, kind: m.kind, attempts, reason, retryAt }, retryAt === null ? 'notification given up' : 'notification not sent; will retry');
      }
    }
  }
}
