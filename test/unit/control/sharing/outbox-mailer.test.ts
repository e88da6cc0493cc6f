import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/common/logger.js';
import { OutboxMailer, type MailTransport } from '../../../../src/control/sharing/mailer.js';
import { ControlStore } from '../../../../src/control/store/index.js';
import { openDatabase } from '../../../../src/control/store/db.js';

/** A transport that fails the first `failures` sends, recording every attempt. */
function fakeTransport(failures: number): MailTransport & { sent: string[]; attempts: number } {
  const t = {
    sent: [] as string[], attempts: 0,
    async send(m: { to: string }) {
      t.attempts++;
      if (t.attempts <= failures) throw new Error('451 try later');
      t.sent.push(m.to);
    },
    close() {},
  };
  return t;
}

describe('OutboxMailer', () => {
  let store: ControlStore;
  let now = 1_000_000;
  beforeEach(() => {
    store = new ControlStore(openDatabase(':memory:'));
    now = 1_000_000;
  });
  afterEach(() => store.close());

  const mailer = (t: MailTransport, maxAttempts = 3) =>
    new OutboxMailer(store.outbox, t, 'ferry@test', { retryInitialMs: 100, maxAttempts, pollMs: 3_600_000, batch: 10 }, silentLogger(), () => now);
  const drain = async (m: OutboxMailer) => {
    m.kick();
    await (m as unknown as { running: Promise<void> | undefined }).running;
  };

  it('sends due messages once and marks them sent', async () => {
    const id = store.outbox.add({ kind: 'access_rule', recipient: 'a@x', subject: 's', body: 'b' }, now);
    const t = fakeTransport(0);
    const m = mailer(t);
    await drain(m);
    await drain(m);
    expect(t.sent).toEqual(['a@x']);
    expect(store.outbox.get(id)).toMatchObject({ attempts: 1, sentAt: now, failedAt: null });
  });

  it('retries with doubling delay, then gives up after maxAttempts', async () => {
    const id = store.outbox.add({ kind: 'access_rule', recipient: 'a@x', subject: 's', body: 'b' }, now);
    const t = fakeTransport(10);
    const m = mailer(t, 3);
    await drain(m);
    expect(store.outbox.get(id)).toMatchObject({ attempts: 1, nextAttemptAt: now + 100, sentAt: null, failedAt: null, lastError: '451 try later' });
    await drain(m);
    expect(t.attempts).toBe(1);
    now += 100;
    await drain(m);
    expect(store.outbox.get(id)).toMatchObject({ attempts: 2, nextAttemptAt: now + 200 });
    now += 200;
    await drain(m);
    expect(store.outbox.get(id)).toMatchObject({ attempts: 3, sentAt: null, failedAt: now });
    now += 10_000;
    await drain(m);
    expect(t.attempts).toBe(3);
  });

  it('without a mailer, messages simply stay recorded', () => {
    const id = store.outbox.add({ kind: 'access_rule', recipient: 'a@x', subject: 's', body: 'b' }, now);
    expect(store.outbox.due(now, 10).map((r) => r.id)).toEqual([id]);
  });
});
