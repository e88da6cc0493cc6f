import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/agent/link/backoff.js';
import { parseRootSpec } from '../../../src/agent/root-spec.js';
import { homedir } from 'node:os';

describe('reconnect backoff', () => {
  it('doubles up to the cap without jitter, and resets', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('spreads delays with full jitter but never returns zero', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
    expect(b.next()).toBe(1);
    const r = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
    expect([r.next(), r.next()]).toEqual([50, 100]);
  });
});

describe('--root PATH[:rw][:share]', () => {
  it('parses flags from the end and defaults to read-only', () => {
    expect(parseRootSpec('/data')).toEqual({ path: '/data', writable: false, sharing: false });
    expect(parseRootSpec('/data:rw')).toEqual({ path: '/data', writable: true, sharing: false });
    expect(parseRootSpec('/data:rw:share')).toEqual({ path: '/data', writable: true, sharing: true });
    expect(parseRootSpec('/odd:name:share')).toEqual({ path: '/odd:name', writable: false, sharing: true });
    expect(parseRootSpec('~/x:rw')).toEqual({ path: `${homedir()}/x`, writable: true, sharing: false });
    expect(parseRootSpec('/a/../b/')).toEqual({ path: '/b', writable: false, sharing: false });
  });

  it('refuses relative and empty paths', () => {
    for (const bad of ['data', ':rw', '', './x:rw']) {
      expect(() => parseRootSpec(bad), bad).toThrow(expect.objectContaining({ code: 'Config.Invalid' }));
    }
  });
});
