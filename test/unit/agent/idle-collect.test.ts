import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { IdleCollector } from '../../../src/agent/transfer/idle-collect.js';
import { fullCollection } from '../../../src/transfer/util/full-collection.js';

const silent = pino({ level: 'silent' });

describe('idle collection', () => {
  afterEach(() => vi.useRealTimers());

  it('collects once when no session has run for the idle time, and not while one runs', () => {
    vi.useFakeTimers();
    let collected = 0;
    const idle = new IdleCollector(() => { collected++; }, [5000], silent);
    idle.sessionsNow(1);
    vi.advanceTimersByTime(60_000);
    expect(collected).toBe(0);
    idle.sessionsNow(0);
    vi.advanceTimersByTime(4999);
    expect(collected).toBe(0);
    // A session that starts inside the quiet time puts the collection off.
    idle.sessionsNow(2);
    vi.advanceTimersByTime(10_000);
    expect(collected).toBe(0);
    idle.sessionsNow(0);
    idle.sessionsNow(0);
    vi.advanceTimersByTime(5000);
    expect(collected).toBe(2);
    // Once per quiet spell, not every idleMs.
    vi.advanceTimersByTime(60_000);
    expect(collected).toBe(2);
    idle.sessionsNow(1);
    idle.sessionsNow(0);
    idle.cancel();
    vi.advanceTimersByTime(60_000);
    expect(collected).toBe(2);
  });

  it('runs each stage of a quiet spell once, each a full collection done twice (so that dead buffers\' memory is back in malloc) and then a malloc trim; a session starts the stages over', () => {
    vi.useFakeTimers();
    const events: string[] = [];
    const idle = new IdleCollector(() => { events.push('gc'); }, [2000, 20_000], silent, () => { events.push('trim'); return true; });
    idle.sessionsNow(0);
    vi.advanceTimersByTime(1999);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['gc', 'gc', 'trim']);
    // The second stage counts from the start of the quiet spell, not from the first collection.
    vi.advanceTimersByTime(17_999);
    expect(events).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['gc', 'gc', 'trim', 'gc', 'gc', 'trim']);
    vi.advanceTimersByTime(600_000);
    expect(events).toHaveLength(6);
    expect(vi.getTimerCount()).toBe(0);
    // A session between the stages cancels the rest; the next quiet spell starts from stage one.
    idle.sessionsNow(1);
    idle.sessionsNow(0);
    vi.advanceTimersByTime(2000);
    idle.sessionsNow(3);
    vi.advanceTimersByTime(600_000);
    expect(events).toHaveLength(9);
    idle.sessionsNow(0);
    vi.advanceTimersByTime(20_000);
    expect(events).toHaveLength(15);
  });

  it('does nothing where no collection is available', () => {
    vi.useFakeTimers();
    const idle = new IdleCollector(null, [10], silent);
    idle.sessionsNow(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fullCollection is V8\'s own: an object nothing refers to is gone after it', async () => {
    const collect = fullCollection();
    expect(collect).not.toBeNull();
    let target: object | null = { big: new Array(1000).fill(7) };
    const ref = new WeakRef(target);
    target = null;
    // WeakRefs are cleared only after the job that last read them: let it end first.
    await new Promise(setImmediate);
    collect!();
    await new Promise(setImmediate);
    expect(ref.deref()).toBeUndefined();
  });
});
