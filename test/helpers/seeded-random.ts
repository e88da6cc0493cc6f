/**
 * mulberry32: a small, fast seeded PRNG in [0, 1), good enough to pick test inputs (lengths,
 * split points, keys, operations, race schedules). The same seed gives the same sequence on
 * every run and machine, so a failing run can be replayed from its printed seed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
