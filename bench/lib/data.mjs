// Test data: one large random file, a tree of small random files; warm caches, clean
// destinations, and check what arrived.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { randomBytes, randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { run, runOk } from './proc.mjs';

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
