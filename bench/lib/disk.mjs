// What the destination's disk can do, measured in the same run as the tools. Ferry's default
// rows are durable: every byte reaches the device before the task ends (its large files are
// written with O_DIRECT and verify_checksum reads them back the same way), while the peers'
// rows leave 2 GiB in the page cache. On a virtual disk shared with other guests the device's
// rate changes from hour to hour (O_DIRECT writes on the bench machine: 1.2 GB/s one day, 308 MB/s
// another), and with it every durable row: the header says what it was at the start and end.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './proc.mjs';
import { rowOf, TARGETS } from './report.mjs';

const MiB = 2 ** 20;

/** MB/s from dd's last line ("… bytes … copied, 6.96 s, 308 MB/s"); NaN when nothing was copied. */
function ddRate(stderr) {
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(stderr);
  return m && Number(m[1]) > 0 ? Number(m[1]) / Number(m[2]) / 1e6 : NaN;
}

/**
 * O_DIRECT write (then fdatasync) and O_DIRECT read of `mib` MiB in `dir`, with dd in 4 MiB
 * blocks (the size of Ferry's chunks). NaN where the file system refuses O_DIRECT. The page
 * cache's dirty pages are written back first, so they do not compete with the probe.
 */
export async function probeDisk(dir, mib = 1024) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'disk-probe.bin');
  const C = { env: { LC_ALL: 'C' } };   // dd's summary is translated under other locales
  try {
    await run('sync', []);
    const w = await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4M', `count=${Math.ceil(mib * MiB / (4 * MiB))}`, 'oflag=direct', 'conv=fdatasync'], C);
    const writeMBs = w.code === 0 ? ddRate(w.stderr) : NaN;
    const r = Number.isFinite(writeMBs) ? await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=4M', 'iflag=direct'], C) : null;
    return { writeMBs, readMBs: r?.code === 0 ? ddRate(r.stderr) : NaN, mib };
  } finally {
    rmSync(file, { force: true });
  }
}

export function diskLine(start, end) {
  const f = (x) => (Number.isFinite(x) ? `${x.toFixed(0)} MB/s` : 'n/a');
  const one = (p) => `write ${f(p.writeMBs)}, read ${f(p.readMBs)}`;
  return `destination disk (dd, O_DIRECT, ${start.mib} MiB in 4 MiB blocks, write then fdatasync): ${one(start)} at the start${end ? `, ${one(end)} at the end` : ''}`;
}

/**
 * Case a's durable row beside the device: a durable copy cannot end before its bytes are on
 * the disk, so Ferry's default can reach rsync over ssh × the target only where the disk writes
 * at least that fast (and its verify_checksum read-back shares the device with the writes). The
 * probe is one dd stream at a time, and the device's rate moves within seconds on a shared host:
 * an indication beside the row, not a verdict.
 */
export function diskBoundNote(rows, disk) {
  const target = TARGETS.find(([c, f, p]) => c === 'a' && f === 'ferry' && p === 'rsync-ssh')?.[3];
  const rsyncSsh = rowOf(rows, 'a', 'rsync-ssh')?.rate;
  const ferry = rowOf(rows, 'a', 'ferry')?.rate;
  const probes = [['start', disk.start?.writeMBs], ['end', disk.end?.writeMBs]].filter(([, w]) => Number.isFinite(w));
  if (!target || !Number.isFinite(rsyncSsh) || probes.length === 0) return [];
  const need = target * rsyncSsh;
  const best = Math.max(...probes.map(([, w]) => w));
  const seen = `${probes.map(([, w]) => w.toFixed(0)).join(' / ')} MB/s (${probes.map(([when]) => when).join(' / ')})`;
  return [`(a) durable rows and the disk: Ferry default ${Number.isFinite(ferry) ? ferry.toFixed(1) : 'n/a'} MB/s; the disk probe wrote ${seen}; ${target} × rsync over ssh needs ${need.toFixed(0)} MB/s of durable writes${best < need ? `, more than the probe saw${probes.length > 1 ? ' at either end' : ''}` : ''}`];
}
