#!/usr/bin/env node
// Restart benchmark (issue 4, point 7): interrupt a 2 GiB loopback transfer at about 50 %, bring
// the killed side back at once, and measure the time to resume and the bytes sent again, for
// Ferry (destination agent SIGKILLed), rsync --partial (client SIGKILLed / SIGTERMed) and GridFTP
// (server SIGKILLed, globus-url-copy -rst). `node bench/restart.mjs --help`; README.md beside
// this file ("Restart after a kill at 50 %") says what is measured.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clean, identical, randomFile, warm } from './lib/data.mjs';
import { ferryBuilt, startFerryCluster, stopFerryCluster } from './lib/ferry.mjs';
import { startGridftp, startRsyncd } from './lib/peers.mjs';
import { ForeignCpu, killOwned, log, sleep, startProc } from './lib/proc.mjs';
import { restartTools } from './lib/restart-tools.mjs';
import { restartReport } from './lib/restart-report.mjs';

const NS = 'fbrestart';
const HELP = `usage: node bench/restart.mjs [options]   (as root, after npm run build)
  --big-mib N       file size in MiB (default 2048)
  --reps N          repetitions of every tool (default $REPS or 1)
  --kill-at P       interrupt when P % of the file is on the destination's disk (default 50)
  --tools LIST      ferry, rsync-kill, rsync-term, gridftp (default all)
  --flush-mib N     Ferry agents' transfer.flushMiB (default: the agent's default, 64)
  --retry-ms N      control's tasks.retryInitialMs (default 200; tasks.tickMs is set to 100)
  --skip-baseline   no uninterrupted run per tool (its wire bytes are the overhead subtracted)
  --data DIR        data, destinations and results (default /tmp/ferry-bench-restart)
  --keep-data       keep the source file for the next run
`;

function options() {
  const { values } = parseArgs({
    options: {
      'big-mib': { type: 'string', default: '2048' }, reps: { type: 'string' }, 'kill-at': { type: 'string', default: '50' },
      tools: { type: 'string', default: 'ferry,rsync-kill,rsync-term,gridftp' }, 'flush-mib': { type: 'string' },
      'retry-ms': { type: 'string', default: '200' }, 'skip-baseline': { type: 'boolean', default: false },
      data: { type: 'string', default: '/tmp/ferry-bench-restart' }, 'keep-data': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) { process.stdout.write(HELP); process.exit(0); }
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
    return n;
  };
  const killAt = Number(values['kill-at']);
  if (!(killAt > 0 && killAt < 100)) throw new Error('--kill-at must be between 0 and 100');
  return {
    bigMib: int('big-mib', values['big-mib']), reps: int('reps', values.reps ?? process.env.REPS ?? '1'), killAt: killAt / 100,
    tools: values.tools.split(',').map((s) => s.trim()).filter(Boolean), flushMib: values['flush-mib'] ? int('flush-mib', values['flush-mib']) : undefined,
    retryMs: int('retry-ms', values['retry-ms']), baseline: !values['skip-baseline'], data: values.data, keepData: values['keep-data'],
  };
}

let nsUp = false;
function netns(verb) {
  if (verb === 'up') {
    try { execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); } catch { /* none left over */ }
    execFileSync('ip', ['netns', 'add', NS]);
    nsUp = true;
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  } else if (nsUp) {
    nsUp = false;
    try { execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }); } catch { /* gone */ }
  }
}
process.on('exit', () => { killOwned(); netns('down'); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`${sig}: tearing down`); process.exit(130); });

/** Bytes sent on the namespace's loopback (every packet once: it is received by the same device). */
function loTx(anchorPid) {
  const line = readFileSync(`/proc/${anchorPid}/net/dev`, 'utf8').split('\n').find((l) => l.trim().startsWith('lo:'));
  return Number(line.split(':')[1].trim().split(/\s+/)[8]);
}

/** Allocated bytes (st_blocks × 512) of every regular file in DIR: partial and temporary files included. */
function onDisk(dir) {
  let n = 0;
  let names = [];
  try { names = readdirSync(dir); } catch { return 0; }
  for (const name of names) {
    try { const s = statSync(join(dir, name)); if (s.isFile()) n += s.blocks * 512; } catch { /* renamed meanwhile */ }
  }
  return n;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** One run of TOOL: uninterrupted (KILL false) or interrupted at KILLAT of the file and resumed. */
async function oneRun(tool, env, kill) {
  const { size, opts, anchor } = env;
  await clean(tool.dstDir);
  mkdirSync(tool.dstDir, { recursive: true });
  await warm(env.paths.src);
  const rec = { tool: tool.id, family: tool.family, kill: kill ? tool.interruption : 'none (baseline)', size };
  const f0 = env.foreign.total;
  const wire0 = loTx(anchor);
  const t0 = now();
  const h = tool.start();
  try {
    if (kill) {
      while (onDisk(tool.dstDir) < opts.killAt * size) {
        if (h.finished) throw new Error('finished before the kill point');
        await sleep(20);
      }
      rec.onDiskAtKill = onDisk(tool.dstDir);
      rec.wireAtKill = loTx(anchor) - wire0;
      rec.atKillS = now() - t0;
      await tool.kill(h);
      rec.onDiskAfterKill = onDisk(tool.dstDir);
      const tr = now();
      await tool.restart(h);
      // Time to resume: the first poll after the restart that sees more bytes on the destination's
      // disk, and the first that sees 1 MiB more on the wire (data moving again).
      const base = onDisk(tool.dstDir), wireBase = loTx(anchor);
      rec.wireAtRestart = wireBase - wire0;
      const timer = setInterval(() => {
        if (rec.resumeDiskS === undefined && onDisk(tool.dstDir) > base) rec.resumeDiskS = now() - tr;
        if (rec.resumeWireS === undefined && loTx(anchor) - wireBase >= 2 ** 20) rec.resumeWireS = now() - tr;
      }, 20);
      try { Object.assign(rec, await tool.finish(h)); } finally { clearInterval(timer); }
      if (h.upAt !== undefined) rec.upS = h.upAt - tr;
    } else {
      Object.assign(rec, await tool.finish(h));
    }
  } catch (err) {
    rec.ok = false;
    rec.error = err.message;
    await tool.finish(h).catch(() => undefined);
  }
  rec.wall = now() - t0;
  rec.wire = loTx(anchor) - wire0;
  env.foreign.sample(false);
  rec.foreignCpu = env.foreign.total - f0;
  if (rec.ok) {
    const dst = join(tool.dstDir, 'big.bin');
    if (!(await identical(env.paths.src, dst))) { rec.ok = false; rec.error = 'destination differs from the source'; }
    const left = readdirSync(tool.dstDir).filter((n) => n !== 'big.bin');
    if (left.length) rec.leftOver = left.map((n) => `${n} (${(statSync(join(tool.dstDir, n)).size / 1e6).toFixed(0)} MB)`);
  }
  rmSync(tool.dstDir, { recursive: true, force: true });
  return rec;
}

async function main() {
  const opts = options();
  if (process.getuid?.() !== 0) throw new Error('run as root (network namespace, GridFTP as nobody)');
  if (!ferryBuilt()) throw new Error('Ferry is not built: run `npm run build` first');
  for (const c of ['rsync', 'globus-url-copy', 'globus-gridftp-server', 'ip', 'diff']) {
    try { execFileSync('which', [c], { stdio: 'ignore' }); } catch { throw new Error(`${c} is missing (see bench/README.md, prerequisites)`); }
  }
  const size = opts.bigMib * 2 ** 20;
  const results = join(opts.data, 'results'), logDir = join(results, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  mkdirSync(join(opts.data, 'src'), { recursive: true, mode: 0o755 });
  mkdirSync(join(opts.data, 'dst'), { recursive: true, mode: 0o755 });
  const paths = { src: join(opts.data, 'src', 'big.bin'), srcRel: 'big.bin', dstRoot: join(opts.data, 'dst') };
  log(`preparing a ${opts.bigMib} MiB random file (kept between runs when the size matches)`);
  randomFile(paths.src, size);

  netns('up');
  const anchor = startProc('ns-anchor', 'sleep', ['infinity'], { ns: NS });
  await sleep(100);
  const env = { ns: NS, logDir, paths, size, opts, anchor: anchor.pid, servers: {}, foreign: new ForeignCpu() };
  const records = [];
  try {
    log(`starting the rsync daemon, GridFTP and Ferry (control + 2 agents) in network namespace ${NS}`);
    env.servers.rsyncd = await startRsyncd({ root: opts.data, ns: NS, logDir });
    env.servers.gridftp = await startGridftp({ ns: NS, logDir });
    const controlConfig = { tasks: { retryInitialMs: opts.retryMs, tickMs: 100 } };
    const agentConfig = opts.flushMib ? { transfer: { flushMiB: opts.flushMib } } : undefined;
    if (opts.tools.includes('ferry')) {
      env.cluster = await startFerryCluster({ name: 'rst', dir: join(opts.data, 'ferry'), logDir, control: { ns: NS }, controlConfig, agentConfig,
        agents: [{ key: 'src', root: join(opts.data, 'src') }, { key: 'dst', root: join(opts.data, 'dst') }].map((a) => ({ ...a, ns: NS })) });
    }
    const tools = restartTools(env).filter((t) => opts.tools.includes(t.id));
    if (env.cluster) {
      // A daemon's first task pays for lazy loading and JIT; one small untimed task goes first.
      const small = { ...env, size: 1 << 20, paths: { ...paths, srcRel: 'warmup.bin', src: join(opts.data, 'src', 'warmup.bin') } };
      randomFile(small.paths.src, 1 << 20);
      const w = await oneRun(restartTools(small)[0], small, false);
      if (!w.ok) throw new Error(`Ferry warm-up transfer failed: ${w.error}`);
    }
    for (let rep = 1; rep <= opts.reps; rep++) {
      const done = new Set();
      for (const tool of tools) {
        for (const kill of [false, true]) {
          if (!kill && (!opts.baseline || done.has(tool.family))) continue;
          if (!kill) done.add(tool.family);
          log(`rep ${rep}: ${tool.id} ${kill ? `interrupted at ${opts.killAt * 100} % (${tool.interruption})` : 'uninterrupted (baseline)'}`);
          const rec = await oneRun(tool, env, kill);
          rec.rep = rep;
          records.push(rec);
          log(`  ${rec.ok ? 'ok' : `FAILED: ${rec.error}`}; ${rec.wall.toFixed(1)} s, wire ${(rec.wire / 1e6).toFixed(0)} MB` +
            (kill ? `, on disk at the kill ${(rec.onDiskAtKill / 1e6).toFixed(0)} MB, resume ${rec.resumeDiskS?.toFixed(2) ?? '-'} s (disk) / ${rec.resumeWireS?.toFixed(2) ?? '-'} s (wire)` : '') +
            (rec.bytesKept !== undefined ? `, RESUMED kept ${(rec.bytesKept / 1e6).toFixed(0)} MB` : '') + (rec.gaveUp ? `; ${rec.gaveUp}` : ''));
        }
      }
    }
  } finally {
    if (env.cluster) await stopFerryCluster(env.cluster);
    for (const s of Object.values(env.servers)) await s.stop();
    await anchor.stop();
    netns('down');
  }
  const { text, md } = restartReport(records, { opts, size, foreignCpu: env.foreign.stop() });
  process.stdout.write(`\n${text}\n`);
  writeFileSync(join(results, 'table.md'), md);
  writeFileSync(join(results, 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), opts, records }, null, 2)}\n`);
  log(`wrote ${join(results, 'table.md')} and results.json (logs in ${logDir})`);
  for (const d of ['dst', 'ferry', ...(opts.keepData ? [] : ['src'])]) rmSync(join(opts.data, d), { recursive: true, force: true });
}

main().catch((err) => {
  log(`restart bench failed: ${err.message}`);
  process.exitCode = 1;
});
