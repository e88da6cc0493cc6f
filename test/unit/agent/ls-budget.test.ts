import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileOps, LsEntryBudget, runFileOp } from '../../../src/agent/ops/index.js';
import { createPathPolicy } from '../../../src/agent/policy/index.js';
import { FerryError } from '../../../src/common/errors.js';
import { globusOpError } from '../../../src/control/api/routes/operations.js';
import type { OpRequest } from '../../../src/protocol/link.js';
import { makeFixture, type Fixture } from './fs-fixture.js';

/**
 * The agent's ls entry budget (limits.lsEntriesPerUser; issue "Agent containment and
 * durability", point 6): one identity's listings in progress may hold at most that many
 * entries at once, so one user's parallel listings of a huge directory cannot take the
 * agent's memory (measured with real agent and control: four parallel ls of 100,000 entries
 * peaked at 1.1 GB RSS without it, 0.42 GB with it). Real files, the agent's own FileOps.
 *
 * Overlap is made deterministic, not timed: a listing reserves its entries synchronously once
 * the directory is read, and then yields while it describes them, so a second ls started in the
 * same turn of the event loop meets the first one's reservation.
 */
const ENTRIES = 300;
const USER_A = '11111111-1111-4111-8111-111111111111';
const USER_B = '22222222-2222-4222-8222-222222222222';

let fx: Fixture;
beforeAll(async () => {
  fx = await makeFixture();
  await mkdir(join(fx.home, 'wide'));
  for (let i = 0; i < ENTRIES; i++) await writeFile(join(fx.home, 'wide', `f${i}`), '');
});
afterAll(async () => { await fx.cleanup(); });

async function refusal(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'the listing was not refused').toBeInstanceOf(FerryError);
  return err as FerryError;
}

describe('ls entry budget', () => {
  it("refuses a user's second listing while the first holds the budget, not another user's; releases when done", async () => {
    const budget = new LsEntryBudget(ENTRIES + 10);
    const ops = createFileOps(createPathPolicy(fx.roots), { lsBudget: budget });
    const first = ops.ls({ path: '/~/wide', showHidden: false }, USER_A);
    const second = ops.ls({ path: '/~/wide', showHidden: false }, USER_A);
    const other = ops.ls({ path: '/~/wide', showHidden: false }, USER_B);
    const err = await refusal(second);
    expect(err.code).toBe('ClientError.TooManyRequests');
    expect(err.status).toBe(429);
    expect(err.details?.['retryAfterSeconds']).toBe(1);
    expect(err.message).toMatch(/limit is 310/);
    expect((await first).entries).toHaveLength(ENTRIES);
    expect((await other).entries).toHaveLength(ENTRIES);
    // Given back: nothing held, and the same user lists again.
    expect(budget.holding(USER_A)).toBe(0);
    expect(budget.holding(USER_B)).toBe(0);
    expect((await ops.ls({ path: '/~/wide', showHidden: false }, USER_A)).entries).toHaveLength(ENTRIES);
  });

  it('lets small listings of one user run side by side within the budget', async () => {
    const ops = createFileOps(createPathPolicy(fx.roots), { lsBudget: new LsEntryBudget(3 * ENTRIES) });
    const all = await Promise.all([1, 2, 3].map(() => ops.ls({ path: '/~/wide', showHidden: false }, USER_A)));
    expect(all.map((r) => r.entries.length)).toEqual([ENTRIES, ENTRIES, ENTRIES]);
  });

  it('always runs a lone listing, even one larger than the budget', async () => {
    const budget = new LsEntryBudget(10);
    const ops = createFileOps(createPathPolicy(fx.roots), { lsBudget: budget });
    expect((await ops.ls({ path: '/~/wide', showHidden: false }, USER_A)).entries).toHaveLength(ENTRIES);
    expect(budget.holding(USER_A)).toBe(0);
  });

  it('releases the reservation when the listing fails', async () => {
    const budget = new LsEntryBudget(10);
    const ops = createFileOps(createPathPolicy(fx.roots), { lsBudget: budget, maxLsEntries: ENTRIES - 1 });
    await refusal(ops.ls({ path: '/~/wide', showHidden: false }, USER_A));
    expect(budget.holding(USER_A)).toBe(0);
  });

  it('keys the budget by the identity control names in the request (runFileOp)', async () => {
    const ops = createFileOps(createPathPolicy(fx.roots), { lsBudget: new LsEntryBudget(ENTRIES) });
    const request = (identityId: string | null, id: string): OpRequest => ({
      type: 'op', id, endpointId: '33333333-3333-4333-8333-333333333333', op: 'ls', args: { path: '/~/wide', showHidden: false },
      principals: { identityId, linkedIdentityIds: [], groupIds: [], authenticated: identityId !== null },
    } as OpRequest);
    const a1 = runFileOp(ops, request(USER_A, 'r1'));
    const a2 = runFileOp(ops, request(USER_A, 'r2'));
    const b1 = runFileOp(ops, request(USER_B, 'r3'));
    const anon1 = runFileOp(ops, request(null, 'r4'));
    const anon2 = runFileOp(ops, request(null, 'r5'));
    expect((await refusal(a2)).code).toBe('ClientError.TooManyRequests');
    // Anonymous guests share one budget.
    expect((await refusal(anon2)).code).toBe('ClientError.TooManyRequests');
    await Promise.all([a1, b1, anon1]);
  });

  it("control answers the agent's refusal with Retry-After (the link carries only code and message)", () => {
    const relayed = globusOpError('ls', new FerryError('ClientError.TooManyRequests', 'over the budget')) as FerryError;
    expect(relayed.code).toBe('ClientError.TooManyRequests');
    expect(relayed.details?.['retryAfterSeconds']).toBe(1);
  });
});
