import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../src/transfer/chunks/file-reader.js';
import { Semaphore } from '../../../src/transfer/util/waiters.js';

// Every source session's chunk pool also draws on one budget of the agent's, so many sessions
// at once hold what a couple would. Sizes here are tiny; the rules are the same.

/** Whether `p` has settled, after letting pending callbacks run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await new Promise(setImmediate);
  return done;
}

describe('source buffer budget', () => {
  const signal = new AbortController().signal;

  it('sessions share the budget: a second pool waits until the first gives a buffer back', async () => {
    const budget = new Semaphore(2 * 1024);
    const a = new BufferPool(1024, 4, budget);
    const b = new BufferPool(1024, 4, budget);
    const a1 = await a.get(signal);
    const a2 = await a.get(signal);
    expect(a1.length).toBe(1024);
    expect(budget.inUse).toBe(2048);
    const waiting = b.get(signal);
    expect(await settled(waiting)).toBe(false);
    a.put(a1);
    const b1 = await waiting;
    expect(b1.length).toBe(1024);
    expect(b1.buffer).toBeInstanceOf(SharedArrayBuffer);
    a.put(a2);
    b.put(b1);
    expect(budget.inUse).toBe(0);
  });

  it('a session still keeps to its own count under a larger budget', async () => {
    const budget = new Semaphore(1 << 20);
    const pool = new BufferPool(512, 2, budget);
    const held = [await pool.get(signal), await pool.get(signal)];
    const third = pool.get(signal);
    expect(await settled(third)).toBe(false);
    pool.put(held[0]!);
    pool.put(await third);
    pool.put(held[1]!);
    expect(budget.inUse).toBe(0);
  });

  it('a wait given up (session aborted) gives back its place in the session count and takes nothing from the budget', async () => {
    const budget = new Semaphore(1024);
    const a = new BufferPool(1024, 4, budget);
    const b = new BufferPool(1024, 1, budget);
    const held = await a.get(signal);
    const abort = new AbortController();
    const waiting = b.get(abort.signal);
    abort.abort(new Error('session over'));
    await expect(waiting).rejects.toThrow('session over');
    a.put(held);
    expect(budget.inUse).toBe(0);
    // b's single slot is free again: the next get does not hang.
    const again = await b.get(signal);
    b.put(again);
    expect(budget.inUse).toBe(0);
  });

  it('a buffer bigger than the whole budget is let through when nothing else is out', async () => {
    const budget = new Semaphore(1000);
    const pool = new BufferPool(4096, 2, budget);
    const big = await pool.get(signal);
    expect(big.length).toBe(4096);
    pool.put(big);
    expect(budget.inUse).toBe(0);
  });

  it('a closed pool gives back what its session never put back, once, and lends nothing after', async () => {
    const budget = new Semaphore(2 * 1024);
    const failed = new BufferPool(1024, 4, budget);
    const kept = await failed.get(signal);
    await failed.get(signal); // lost with a unit the session never sent
    const other = new BufferPool(1024, 4, budget);
    const waiting = other.get(signal);
    expect(await settled(waiting)).toBe(false);
    failed.close();
    const got = await waiting;
    expect(budget.inUse).toBe(1024);
    // A late put (a socket write finishing after the session) gives nothing back twice.
    failed.put(kept);
    expect(budget.inUse).toBe(1024);
    other.put(got);
    expect(budget.inUse).toBe(0);
    await expect(failed.get(signal)).rejects.toMatchObject({ code: 'Transfer.Canceled' });
    expect(budget.inUse).toBe(0);
  });
});
