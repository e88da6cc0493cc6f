// Test data: one large random file, a tree of small random files; warm caches, clean
// destinations, and check what arrived.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, statfsSync, writeFileSync, openSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { createCipheriv, createHash, randomBytes, randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { log, run, runOk, sleep } from './proc.mjs';

/** A file of BYTES random bytes, kept when it already has that size (world-readable for GridFTP's nobody). */
export function randomFile(path, bytes) {
  if (existsSync(path) && statSync(path).size === bytes) return false;
  const fd = openSync(path, 'w', 0o644);
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let left = bytes; left > 0;) {
    const n = Math.min(left, buf.length);
    randomFillSync(buf, 0, n);
    writeSync(fd, buf, 0, n);
    left -= n;
  }
  closeSync(fd);
  return true;
}

/** NFILES files of KIB KiB spread round-robin over NDIRS directories; a marker next to ROOT remembers the shape. */
export function smallTree(root, nfiles, kib, ndirs) {
  const marker = `${root}.complete`;
  const shape = `${nfiles} ${kib} ${ndirs}\n`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return false;
  rmSync(root, { recursive: true, force: true });
  rmSync(marker, { force: true });
  for (let d = 0; d < ndirs; d++) mkdirSync(join(root, `d${String(d).padStart(3, '0')}`), { recursive: true, mode: 0o755 });
  for (let i = 0; i < nfiles; i++) {
    writeFileSync(join(root, `d${String(i % ndirs).padStart(3, '0')}`, `f${String(i).padStart(6, '0')}`), randomBytes(kib * 1024), { mode: 0o644 });
  }
  writeFileSync(marker, shape);
  return true;
}

/** Read sources into the page cache (every run is warm-cache, as in the anchors). */
export async function warm(path) {
  await runOk('bash', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'warm', path]);
}

/** Remove a destination, then flush dirty pages so one run's writeback does not slow the next. */
export async function clean(path) {
  rmSync(path, { recursive: true, force: true });
  await runOk('sync', []);
}

/**
 * Earlier runs' many-file destinations, moved aside instead of removed. On ext4 without a
 * journal the inode allocator passes over every free inode that was freed in the last 60 s,
 * or in the last 360 s once its inode-table block is dirty again (as soon as a new file takes
 * a neighbour in the block), reading the block for each one on every file it creates: creating
 * 20,000 files within minutes of removing 20,000 cost the creating process 2-5 CPU-s of kernel
 * time, a different amount every run, whichever tool it was. A rename frees no inode. The trash
 * is removed only when it would pass its cap (half the free space at the start, at most
 * 48 GiB) and when the phase ends; a run that creates many files starts only once 361 s have
 * passed since inodes were last freed (remembered in TRASH.freed across bench runs).
 */
export class Trash {
  static QUIET_MS = 361_000;

  constructor(dir) {
    this.dir = dir;
    this.stamp = `${dir}.freed`;
    this.held = 0;
    this.serial = 0;
    mkdirSync(dir, { recursive: true });
    const fs = statfsSync(dir);
    this.cap = Math.min(48 * 2 ** 30, (fs.bavail * fs.bsize) / 2);
  }

  /** When inodes were last freed (0: not known to this or an earlier run). */
  get freedAt() {
    try { return Number(readFileSync(this.stamp, 'utf8')) || 0; } catch { return 0; }
  }

  /** Note that many inodes were freed just now (by the trash or something else). */
  freedNow() {
    writeFileSync(this.stamp, `${Date.now()}\n`);
  }

  /** Move PATH (about BYTES) into the trash, emptying the trash first when it would pass its cap. */
  async retire(path, bytes) {
    if (!existsSync(path)) return;
    if (this.held > 0 && this.held + bytes > this.cap) await this.empty();
    renameSync(path, join(this.dir, `${Date.now()}-${++this.serial}`));
    this.held += bytes;
  }

  /** Remove everything in the trash and write the freed inodes back. */
  async empty() {
    const had = readdirSync(this.dir).length > 0;
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    await runOk('sync', []);
    this.held = 0;
    if (had) this.freedNow();
  }

  /** Wait until no inode was freed in the last 361 s. */
  async quiet() {
    const left = this.freedAt + Trash.QUIET_MS - Date.now();
    if (left <= 0) return;
    log(`  waiting ${Math.ceil(left / 1000)} s: inodes were freed less than 6 minutes ago (bench/README.md)`);
    await sleep(left);
  }
}

export function fileSize(path) {
  try { return statSync(path).size; } catch { return -1; }
}

export function countFiles(root) {
  let n = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile()) n++;
    }
  };
  try { walk(root); } catch { return 0; }
  return n;
}

/** Byte-for-byte comparison (file or tree). */
export async function identical(a, b) {
  const r = await run('diff', ['-r', '-q', a, b]);
  return r.code === 0;
}

/**
 * Case e's mixed tree, the same on every run and machine: a seeded PRNG (mulberry32) chooses
 * every size and directory, and every file's contents are an AES-128-CTR keystream keyed by the
 * seed and the file's index (incompressible, reproducible). Composition (SHAPE):
 *   LARGE files of 16–64 MiB, MEDIUM of 1–4 MiB, SMALL of 1–64 KiB (uniform sizes, whole KiB),
 *   spread uniformly over the tree's directories: the root, TOP directories `t0..`, each with
 *   SUB directories `s0..`, each with SUB directories `u0..` (three levels below the root).
 * Returns {files, bytes, dirs}; a marker next to ROOT keeps the tree while its shape matches.
 */
export const MIXED_DEFAULT = { seed: 13, large: 6, medium: 250, small: 5000, top: 8, sub: 4 };

export function mixedPlan(shape = MIXED_DEFAULT) {
  let s = shape.seed >>> 0;
  const rnd = () => {   // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const between = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const dirs = [''];
  for (let t = 0; t < shape.top; t++) {
    dirs.push(`t${t}`);
    for (let u = 0; u < shape.sub; u++) {
      dirs.push(`t${t}/s${u}`);
      for (let v = 0; v < shape.sub; v++) dirs.push(`t${t}/s${u}/u${v}`);
    }
  }
  const files = [];
  const add = (n, kind, loKiB, hiKiB) => {
    for (let i = 0; i < n; i++) {
      const dir = dirs[Math.floor(rnd() * dirs.length)];
      const name = `${kind}${String(files.length).padStart(5, '0')}.bin`;
      files.push({ path: dir ? `${dir}/${name}` : name, size: between(loKiB, hiKiB) * 1024 });
    }
  };
  add(shape.large, 'L', 16 * 1024, 64 * 1024);
  add(shape.medium, 'M', 1024, 4 * 1024);
  add(shape.small, 'S', 1, 64);
  return { dirs, files, bytes: files.reduce((a, f) => a + f.size, 0) };
}

export function mixedTree(root, shape = MIXED_DEFAULT) {
  const plan = mixedPlan(shape);
  const marker = `${root}.complete`;
  const tag = `${JSON.stringify(shape)} ${plan.files.length} ${plan.bytes}\n`;
  const out = { files: plan.files.length, bytes: plan.bytes, dirs: plan.dirs.length, made: false };
  if (existsSync(marker) && readFileSync(marker, 'utf8') === tag) return out;
  out.made = true;
  rmSync(root, { recursive: true, force: true });
  rmSync(marker, { force: true });
  for (const d of plan.dirs) mkdirSync(join(root, d), { recursive: true, mode: 0o755 });
  const key = createHash('sha256').update(`ferry-bench-mixed-${shape.seed}`).digest().subarray(0, 16);
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  plan.files.forEach((f, i) => {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(i, 0);
    const ctr = createCipheriv('aes-128-ctr', key, iv);
    const fd = openSync(join(root, f.path), 'w', 0o644);
    for (let left = f.size; left > 0;) {
      const n = Math.min(left, zeros.length);
      writeSync(fd, ctr.update(zeros.subarray(0, n)));
      left -= n;
    }
    closeSync(fd);
  });
  writeFileSync(marker, tag);
  return out;
}

/** Total size of the regular files under ROOT. */
export function treeBytes(root) {
  let n = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile()) n += statSync(join(d, e.name)).size;
    }
  };
  try { walk(root); } catch { return -1; }
  return n;
}

/** Write back dirty pages, then drop the page cache, dentries and inodes (cold reads next). */
export async function dropCaches() {
  await runOk('sync', []);
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}
