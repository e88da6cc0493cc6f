import { fastify } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import type { Api, ApiContext } from '../../../src/control/api/context.js';
import { installErrorHandlers } from '../../../src/control/api/errors.js';
import { registerOperationRoutes } from '../../../src/control/api/routes/operations.js';
import { registerTaskRoutes } from '../../../src/control/api/routes/tasks.js';
import { DEFAULT_USER_LIMITS, OperationLimiter, sharingLimiters, WindowLimiter } from '../../../src/control/api/user-limits.js';
import { TaskOrchestrator } from '../../../src/control/tasks/index.js';
import { world, type World } from './tasks/fixtures.js';

/** A hub whose file operations wait until the test answers them, so "in flight" is exact. */
class HoldingHub {
  readonly pending: Array<{ endpointId: string; op: string; answer(): void }> = [];
  isConnected(): boolean { return true; }
  request(endpointId: string, op: string): Promise<unknown> {
    return new Promise((resolve) => {
      this.pending.push({ endpointId, op, answer: () => resolve(op === 'ls' ? { path: '/~/', entries: [] } : { DATA_TYPE: 'file' }) });
    });
  }
}

const flush = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

describe('per-identity limits', () => {
  let w: World;
  let app: Api;
  let hub: HoldingHub;
  let tasks: TaskOrchestrator;

  beforeEach(async () => {
    w = world();
    hub = new HoldingHub();
    tasks = new TaskOrchestrator({ repo: w.store.tasks, hub: w.hub, log: silentLogger(), limits: { tickMs: 3_600_000 } });
    tasks.open();
    const userLimits = { fileOpsPerEndpoint: 2, fileOpsPerUser: 3, activeTasksPerUser: 2 };
    const ctx = { store: w.store, hub, tasks, log: silentLogger(), userLimits, opLimiter: new OperationLimiter(userLimits) } as unknown as ApiContext;
    app = fastify() as unknown as Api;
    installErrorHandlers(app, () => []);
    registerOperationRoutes(app, ctx);
    registerTaskRoutes(app, ctx);
    await app.ready();
  });
  afterEach(async () => {
    await tasks.close();
    await app.close();
    w.cleanup();
  });

  const ls = (endpointId: string) => app.inject({ method: 'GET', url: `/v0.10/operation/endpoint/${endpointId}/ls?path=/~/`, headers: { authorization: `Bearer ${w.token}` } });

  it('caps file operations in flight per endpoint and in all with 429 ClientError.TooManyRequests and Retry-After', async () => {
    const first = [ls(w.src), ls(w.src)];
    await flush();
    expect(hub.pending).toHaveLength(2);
    const refused = await ls(w.src);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'ClientError.TooManyRequests', resource: `/v0.10/operation/endpoint/${w.src}/ls` });
    expect(refused.json().message).toMatch(/on this endpoint \(the limit is 2\)/);
    // Another endpoint still has room, up to the caller's total of 3.
    const third = ls(w.dst);
    await flush();
    expect(hub.pending).toHaveLength(3);
    const overTotal = await ls(w.dst);
    expect(overTotal.statusCode).toBe(429);
    expect(overTotal.json().message).toMatch(/\(the limit is 3\)/);
    // An answer frees its slot.
    hub.pending.shift()!.answer();
    expect((await first[0]!).statusCode).toBe(200);
    const again = ls(w.src);
    await flush();
    expect(hub.pending).toHaveLength(3);
    for (const p of hub.pending.splice(0)) p.answer();
    expect((await Promise.all([first[1]!, third, again])).map((r) => r.statusCode)).toEqual([200, 200, 200]);
  });

  it('frees the slot when the operation fails, and counts each identity apart', async () => {
    const limiter = new OperationLimiter({ fileOpsPerEndpoint: 1, fileOpsPerUser: 1 });
    const release = limiter.acquire('alice', 'ep');
    expect(() => limiter.acquire('alice', 'ep2')).toThrow(expect.objectContaining({ code: 'ClientError.TooManyRequests', status: 429 }));
    const bob = limiter.acquire('bob', 'ep');
    release();
    release();
    expect(limiter.inFlight('alice')).toBe(0);
    limiter.acquire('alice', 'ep2')();
    bob();
    expect(limiter.inFlight('bob')).toBe(0);
    expect(DEFAULT_USER_LIMITS).toEqual({ fileOpsPerEndpoint: 4, fileOpsPerUser: 16, activeTasksPerUser: 100, sharingChangesPerMinute: 120, notificationsPerHour: 20 });
  });

  it('refuses a new task with 409 ClientError.Conflict.TooManyPendingJobs while the owner has the most active tasks', async () => {
    const submit = (n: number) => app.inject({
      method: 'POST', url: '/v0.10/delete', headers: { authorization: `Bearer ${w.token}` },
      payload: { DATA_TYPE: 'delete', submission_id: `sub-${n}`, endpoint: w.src, DATA: [{ DATA_TYPE: 'delete_item', path: `/~/x${n}` }] },
    });
    expect((await submit(1)).statusCode).toBe(202);
    expect((await submit(2)).statusCode).toBe(202);
    const refused = await submit(3);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'ClientError.Conflict.TooManyPendingJobs', resource: '/v0.10/delete' });
    // A resubmission of an accepted task is still answered Duplicate.
    expect((await submit(1)).json()).toMatchObject({ code: 'Duplicate' });
    // Once a task has finished there is room again.
    const active = w.store.tasks.list({ ownerId: w.owner, statuses: ['ACTIVE'], orderBy: [], limit: 1, offset: 0 }).records[0]!;
    expect(tasks.cancel(active.id)).toBe('Canceled');
    expect((await submit(3)).statusCode).toBe(202);
  });
});

describe('per-identity windows on sharing changes and notification e-mails', () => {
  it('counts each identity in its own fixed window and says when to come back', () => {
    const limiter = new WindowLimiter(2, 60_000, 'changes');
    const t0 = 1_000_000;
    limiter.take('alice', t0);
    limiter.take('alice', t0 + 1);
    limiter.take('bob', t0 + 2);
    let refused: unknown;
    try {
      limiter.take('alice', t0 + 15_000);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({ code: 'ClientError.TooManyRequests', status: 429, details: { retryAfterSeconds: 45 } });
    expect(String((refused as Error).message)).toContain('the limit is 2');
    // A new window starts once the old one is over.
    limiter.take('alice', t0 + 60_000);
    // Zero allowed: every event refused (notifications switched off).
    expect(() => new WindowLimiter(0, 3_600_000, 'e-mails').take('alice', t0)).toThrow(/limit is 0/);
  });

  it('sharingLimiters takes its numbers from the limits config', () => {
    const l = sharingLimiters({ sharingChangesPerMinute: 1, notificationsPerHour: 1 });
    l.changes.take('a', 0);
    expect(() => l.changes.take('a', 59_999)).toThrow(/changes to access rules and roles/);
    l.notifications.take('a', 0);
    expect(() => l.notifications.take('a', 3_599_999)).toThrow(/notifications/);
    expect(DEFAULT_USER_LIMITS.sharingChangesPerMinute).toBeGreaterThan(0);
  });
});
