import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleBuffers } from '../../../src/transfer/util/idle-buffers.js';

describe('IdleBuffers', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('hands back the most recent buffer of the size asked for, and nothing of another size', () => {
    const idle = new IdleBuffers(4, 1000);
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(16);
    idle.give(a);
    idle.give(b);
    expect(idle.take(8)).toBe(a);
    expect(idle.take(8)).toBeUndefined();
    expect(idle.take(16)).toBe(b);
  });

  it('tells onDrop of each buffer given while full', () => {
    const dropped: Buffer[] = [];
    const idle = new IdleBuffers(2, 1000, (buf) => dropped.push(buf));
    const bufs = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)];
    for (const buf of bufs) idle.give(buf);
    expect(idle.count).toBe(2);
    expect(dropped).toEqual([bufs[2]]);
    expect(dropped[0]).toBe(bufs[2]);
  });

  it('lets go, and tells onDrop of, the buffers that stayed idle through a whole interval', () => {
    const dropped: Buffer[] = [];
    const idle = new IdleBuffers(8, 1000, (buf) => dropped.push(buf));
    const bufs = Array.from({ length: 4 }, () => Buffer.alloc(4));
    for (const buf of bufs) idle.give(buf);
    // The first look lets go what was idle when the interval began: the first one given.
    vi.advanceTimersByTime(1000);
    expect(dropped).toEqual([bufs[0]]);
    expect(idle.count).toBe(3);
    // Two are taken and one comes back: one of them sat idle through the whole interval.
    const busy = idle.take(4)!;
    idle.take(4);
    idle.give(busy);
    vi.advanceTimersByTime(1000);
    expect(dropped).toEqual([bufs[0], bufs[1]]);
    expect(idle.count).toBe(1);
    // Nothing used in the next interval: the rest goes too, and the timer stops.
    vi.advanceTimersByTime(1000);
    expect(dropped).toHaveLength(3);
    expect(idle.count).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
