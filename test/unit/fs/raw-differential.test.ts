import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getNativeRawFs, getTwinRawFs, nativeRawFsUnavailableReason } from '../../../src/fs/load.js';
import type { RawFs } from '../../../src/fs/raw.js';
import { seededRandom } from '../../helpers/seeded-random.js';

// Random sequences of RawFs calls, mixed with a hostile local user renaming things and
// planting links under the agent's feet, applied in lockstep to two fresh trees: one driven
// by the native addon, one by the twin. Every outcome (result or error code and syscall)
// must match, and so must the trees at the end. FERRY_RAWFS_SEED=n replays one seed.

const OPS_PER_SEED = 2000;
const NAMES = ['a', 'b', 'c', 'd'];
const LINK_TARGETS = ['a', 'b/c', '../a', 'nowhere', '.', '..', '/'];
const MAX_HANDLES = 5;
const { O_CREAT, O_EXCL, O_WRONLY, O_RDONLY, O_TRUNC, O_DIRECTORY } = fs.constants;

/** One implementation's side of the run: its tree, the outside dir a hostile link points to, and held dir fds. */
interface Side {
  raw: RawFs;
  base: string;
  root: string;
  outside: string;
  handles: number[];
}

function makeSide(raw: RawFs, parent: string): Side {
  const base = join(parent, raw.kind);
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(join(outside, 'sentinel'), 'must stay untouched');
  return { raw, base, root, outside, handles: [raw.openRoot(root)] };
}

/** What a step produced, comparable across sides: the value, or the error's code and syscall. */
function outcome(side: Side, fn: () => unknown): string {
  try {
    const v = fn();
    return `ok ${JSON.stringify(v ?? null).split(side.base).join('<base>')}`;
  } catch (err) {
    const e = err as { code?: string; syscall?: string };
    if (typeof e.code !== 'string') throw err;
    return `error ${e.code} ${e.syscall ?? ''}`;
  }
}

/** Open `name` under `dir`, do `use` with the fd, always close it. */
function withFd<T>(raw: RawFs, dir: number, name: string, flags: number, use: (fd: number) => T): T {
  const fd = raw.openat(dir, name, flags, 0o644);
  try {
    return use(fd);
  } finally {
    raw.close(fd);
  }
}

/** `rel` under the tree's root, refused (like an error) if a parent component is a link. */
function userPath(side: Side, rel: string): string {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = join(side.root, ...parts.slice(0, i));
    if (fs.lstatSync(parent, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw Object.assign(new Error('user path through a link'), { code: 'USER_LINK' });
    }
  }
  return join(side.root, rel);
}

/** A step: a label for failure messages and the same action for each side (all randomness drawn beforehand). */
interface Step {
  label: string;
  run(side: Side): unknown;
}

function randomStep(rand: () => number, handleCount: number): Step {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // The root half the time: held sub-directories are often gone (the user's doing), and a
  // run that only meets ENOENT tests little.
  const handle = (): number => (rand() < 0.5 ? 0 : Math.floor(rand() * handleCount));
  const victim = 1 + Math.floor(rand() * Math.max(1, handleCount - 1));
  const h = handle();
  const h2 = handle();
  const n = pick(NAMES);
  const n2 = pick(NAMES);
  const data = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
  const path = [pick(NAMES), ...(rand() < 0.5 ? [pick(NAMES)] : [])].join('/');
  const path2 = [pick(NAMES), ...(rand() < 0.5 ? [pick(NAMES)] : [])].join('/');
  const flag = rand() < 0.5;
  const target = pick(LINK_TARGETS);
  const mode = pick([0o600, 0o644, 0o755, 0o700, 0o4755]);
  const times = [Math.floor(rand() * 2e12) + rand(), Math.floor(rand() * 2e12) + rand()] as const;

  const steps: Array<[number, Step]> = [
    [6, { label: `create ${h}/${n} (${data.length} bytes)`, run: (s) => withFd(s.raw, s.handles[h]!, n, O_CREAT | O_EXCL | O_WRONLY, (fd) => fs.writeSync(fd, data)) }],
    [2, { label: `truncate ${h}/${n}`, run: (s) => withFd(s.raw, s.handles[h]!, n, O_WRONLY | O_TRUNC, () => undefined) }],
    [2, { label: `open ${h}/${n}`, run: (s) => withFd(s.raw, s.handles[h]!, n, O_RDONLY, (fd) => s.raw.fstat(fd).kind) }],
    [4, {
      label: `opendir ${h}/${n}`,
      run: (s) => {
        const fd = s.raw.openat(s.handles[h]!, n, O_RDONLY | O_DIRECTORY);
        if (s.handles.length >= MAX_HANDLES) s.raw.close(s.handles.splice(1, 1)[0]!);
        s.handles.push(fd);
      },
    }],
    [2, {
      label: `close held directory ${victim}`,
      run: (s) => {
        if (victim < s.handles.length) s.raw.close(s.handles.splice(victim, 1)[0]!);
      },
    }],
    [5, { label: `mkdirat ${h}/${n}`, run: (s) => s.raw.mkdirat(s.handles[h]!, n, 0o755) }],
    [4, { label: `unlinkat ${h}/${n} dir=${flag}`, run: (s) => s.raw.unlinkat(s.handles[h]!, n, flag) }],
    [5, { label: `renameat ${h}/${n} -> ${h2}/${n2} noReplace=${flag}`, run: (s) => s.raw.renameat(s.handles[h]!, n, s.handles[h2]!, n2, flag) }],
    [3, { label: `linkat ${h}/${n} -> ${h2}/${n2}`, run: (s) => s.raw.linkat(s.handles[h]!, n, s.handles[h2]!, n2) }],
    [3, { label: `symlinkat ${target} at ${h}/${n}`, run: (s) => s.raw.symlinkat(target, s.handles[h]!, n) }],
    [2, { label: `readlinkat ${h}/${n}`, run: (s) => s.raw.readlinkat(s.handles[h]!, n) }],
    [4, {
      label: `statat ${h}/${n}`,
      run: (s) => {
        const st = s.raw.statat(s.handles[h]!, n);
        return { kind: st.kind, mode: st.mode, nlink: st.nlink, size: st.kind === 'file' ? st.size : -1 };
      },
    }],
    [3, {
      label: `statatIfAny ${h}/${n}`,
      run: (s) => {
        const st = s.raw.statatIfAny(s.handles[h]!, n);
        return st === undefined ? 'none' : { kind: st.kind, mode: st.mode, nlink: st.nlink, size: st.kind === 'file' ? st.size : -1 };
      },
    }],
    [3, {
      label: `readdir ${h}`,
      run: (s) => s.raw.readdir(s.handles[h]!).map((e) => `${e.name}:${e.kind}`).sort(),
    }],
    [2, {
      label: `fchmod ${h}/${n} ${mode.toString(8)}`,
      run: (s) => withFd(s.raw, s.handles[h]!, n, O_RDONLY, (fd) => (s.raw.fchmod(fd, mode), s.raw.fstat(fd).mode)),
    }],
    [2, {
      label: `futimes ${h}/${n} ${times.join(' ')}`,
      run: (s) => withFd(s.raw, s.handles[h]!, n, O_RDONLY, (fd) => {
        s.raw.futimes(fd, times[0], times[1]);
        const st = s.raw.fstat(fd);
        return [st.atimeMs, st.mtimeMs];
      }),
    }],
    // The hostile local user, working by path behind the agent's back (but not through links
    // it planted itself, so that `outside` changing can only be the agent's doing).
    [3, {
      label: `user renames ${path} -> ${path2}`,
      run: (s) => fs.renameSync(userPath(s, path), userPath(s, path2)),
    }],
    [2, {
      label: `user swaps ${path} for a link outside`,
      run: (s) => {
        fs.rmSync(userPath(s, path), { recursive: true, force: true });
        fs.symlinkSync(s.outside, userPath(s, path));
      },
    }],
  ];
  let r = rand() * steps.reduce((sum, [w]) => sum + w, 0);
  for (const [w, step] of steps) {
    r -= w;
    if (r < 0) return step;
  }
  return steps[0]![1];
}

/** Every entry under `dir`: path, kind, mode, and size+content hash for files or target for links. */
function snapshot(dir: string, base: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(join(dir, rel)).sort()) {
      const p = join(rel, name);
      const st = fs.lstatSync(join(dir, p));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${p} link ${fs.readlinkSync(join(dir, p)).split(base).join('<base>')}`);
      else if (st.isDirectory()) {
        out.push(`${p} dir ${mode}`);
        walk(p);
      } else {
        const hash = createHash('sha256').update(fs.readFileSync(join(dir, p))).digest('hex').slice(0, 16);
        out.push(`${p} ${st.isFile() ? 'file' : 'other'} ${mode} ${st.size} ${st.nlink} ${hash}`);
      }
    }
  };
  walk('');
  return out;
}

const reason = nativeRawFsUnavailableReason();
const seeds = process.env.FERRY_RAWFS_SEED
  ? [Number(process.env.FERRY_RAWFS_SEED)]
  : [Math.floor(Math.random() * 2 ** 31), 1, 2];

describe.runIf(reason === undefined)('RawFs differential: native vs twin', () => {
  const parent = fs.mkdtempSync(join(tmpdir(), 'ferry-rawfs-diff-'));
  afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

  it.each(seeds)(`${OPS_PER_SEED} random steps agree, seed %i`, (seed) => {
    console.log(`raw-differential: seed ${seed} (replay with FERRY_RAWFS_SEED=${seed})`);
    const dir = join(parent, String(seed));
    const sides = [makeSide(getNativeRawFs(), dir), makeSide(getTwinRawFs(), dir)] as const;
    const rand = seededRandom(seed);
    const tally = new Map<string, number>();
    try {
      for (let i = 0; i < OPS_PER_SEED; i++) {
        const step = randomStep(rand, sides[0].handles.length);
        const [a, b] = sides.map((s) => outcome(s, () => step.run(s)));
        expect(b, `seed ${seed}, step ${i}: ${step.label}`).toBe(a);
        expect(sides[1].handles.length).toBe(sides[0].handles.length);
        const key = a!.startsWith('ok') ? 'ok' : a!.split(' ')[1]!;
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
      expect(snapshot(sides[1].root, sides[1].base)).toEqual(snapshot(sides[0].root, sides[0].base));
      for (const s of sides) expect(fs.readdirSync(s.outside)).toEqual(['sentinel']);
    } finally {
      for (const s of sides) s.handles.forEach((fd) => s.raw.close(fd));
    }
    console.log(`raw-differential: seed ${seed} outcomes ${JSON.stringify(Object.fromEntries(tally))}`);
    // Both successes and a spread of errors, or the run tested little.
    expect(tally.get('ok') ?? 0).toBeGreaterThan(OPS_PER_SEED / 10);
    expect(tally.size).toBeGreaterThan(5);
  });
});

if (reason !== undefined) {
  describe('RawFs differential: native vs twin', () => {
    it.skip(`native addon not built: ${reason}`, () => undefined);
  });
}
