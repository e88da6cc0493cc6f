// Processes of the benchmark: start and stop the ones we own (by PID, never by name), time
// client commands, and read CPU and memory from /proc.
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { connect } from 'node:net';

const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Every long-lived process we started and have not stopped yet (pid -> name). */
const owned = new Map();

export function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `ip netns exec NS` in front of a command when NS is set (it execs, so the PID stays the command's). */
export function inNs(ns, cmd, args) {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/**
 * Start a long-lived process; stdout and stderr go to LOGDIR/NAME.log and are also kept in
 * memory (the last 64 kB) so that start-up lines can be awaited.
 */
export function startProc(name, cmd, args, { logDir, env, ns } = {}) {
  const [c, a] = inNs(ns, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const file = logDir ? createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }) : undefined;
  let text = '';
  // Characters received in all: a mark that keeps its meaning once older text left the window.
  let received = 0;
  const watchers = new Set();
  const onData = (d) => {
    file?.write(d);
    const s = d.toString();
    received += s.length;
    text = (text + s).slice(-65536);
    for (const w of watchers) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exit;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    exit = { code, signal };
    owned.delete(child.pid);
    file?.end();
    for (const w of watchers) w();
    resolve(exit);
  }));
  child.on('error', (err) => { text += `\nspawn error: ${err.message}`; });
  if (child.pid) owned.set(child.pid, name);
  return {
    name, pid: child.pid, child, exited,
    output: () => text,
    /** A mark for waitFor's `after`: how much output has arrived so far. */
    received: () => received,
    /**
     * Resolve with the first match of `re` in the output (only in what arrived after the mark
     * `after`, when given); reject if the process exits or time runs out. Counting matches in
     * the 64 kB window instead does not work: an older one can leave it as a new one comes in.
     */
    waitFor(re, timeoutMs = 30_000, { after } = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { done(); reject(new Error(`${name}: timed out waiting for ${re}\n${text.slice(-2000)}`)); }, timeoutMs);
        const check = () => {
          const m = (after === undefined ? text : text.slice(Math.max(0, text.length - (received - after)))).match(re);
          if (m) { done(); resolve(m); return; }
          if (exit) { done(); reject(new Error(`${name} exited (${exit.code ?? exit.signal}) while waiting for ${re}\n${text.slice(-2000)}`)); }
        };
        const done = () => { clearTimeout(timer); watchers.delete(check); };
        watchers.add(check);
        check();
      });
    },
    async stop(timeoutMs = 5000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, timeoutMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** Kill whatever we still own (SIGTERM, then SIGKILL); synchronous so it can run in an exit handler. */
export function killOwned() {
  for (const pid of owned.keys()) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + 3000;
  while (owned.size > 0 && Date.now() < deadline) {
    for (const pid of [...owned.keys()]) { if (!alive(pid)) owned.delete(pid); }
    if (owned.size > 0) execFileSync('sleep', ['0.1']);
  }
  for (const pid of owned.keys()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  owned.clear();
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it is gone for our purposes.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch { return false; }
}

/** Run a command to completion: exit code, output, stderr. */
export function run(cmd, args, { ns, env, input, cwd } = {}) {
  const [c, a] = inNs(ns, cmd, args);
  return new Promise((resolve) => {
    const child = spawn(c, a, { env: { ...process.env, ...env }, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => { err += e.message; });
    if (child.pid) owned.set(child.pid, cmd);   // so that an interrupted bench stops it too
    child.on('exit', () => owned.delete(child.pid));
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
    if (input !== undefined) child.stdin.end(input);
  });
}

export async function runOk(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim().slice(-2000)}`);
  return r;
}

/**
 * Run a client command under /usr/bin/time: wall seconds (our own clock), CPU seconds
 * (user+sys of the command and its children) and the largest RSS among them.
 */
export async function timed(cmd, args, { ns } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fb-time-'));
  const out = join(dir, 'time');
  const t0 = process.hrtime.bigint();
  const r = await run('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, ...inNs(ns, cmd, args).flat()]);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  let cpu = NaN, rssMb = NaN;
  try {
    const [, u, s, m] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpu = u + s;
    rssMb = m / 1024;
  } catch { /* time did not write: the command could not start */ }
  rmSync(dir, { recursive: true, force: true });
  return { code: r.code, wall, cpu, rssMb, stdout: r.stdout, stderr: r.stderr };
}

/** CPU seconds of a live process: its threads plus the children it has reaped. */
export function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 (utime stime cutime cstime) are 12-15 after "pid (comm) "
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / HZ;
  } catch { return NaN; }
}

/** MB (2^20) for a VmHWM / VmRSS line of /proc/PID/status. */
export function procMem(pid, field = 'VmHWM') {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch { return NaN; }
}

/** Reset the process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0: clear_refs 5). */
export function resetPeak(pid) {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); return true; } catch { return false; }
}

/** Children of PID still alive (a daemon has not reaped its session yet while this is non-empty). */
function childrenOf(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim(); } catch { return ''; }
}

/** Wait until a forking daemon has reaped its session children, so that cutime/cstime count them. */
export async function waitReaped(pids, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pids.every((p) => childrenOf(p) === '')) return true;
    await sleep(20);
  }
  return false;
}

/** Samples VmRSS of a set of PIDs every INTERVAL ms and keeps the maximum per name. */
export class RssSampler {
  constructor(intervalMs = 200) {
    this.max = new Map();
    this.pids = new Map();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  watch(name, pid) { this.pids.set(name, pid); }
  unwatch(name) { this.sample(); this.pids.delete(name); }
  sample() {
    for (const [name, pid] of this.pids) {
      const v = Math.max(procMem(pid, 'VmRSS'), procMem(pid, 'VmHWM'));
      if (Number.isFinite(v) && v > (this.max.get(name) ?? 0)) this.max.set(name, v);
    }
  }
  stop() { this.sample(); clearInterval(this.timer); }
}

/** True when something accepts TCP connections on HOST:PORT (a stale daemon would skew CPU figures). */
export function portInUse(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Wait until HOST:PORT accepts connections, from inside NS when given. */
export async function waitPort(host, port, ns, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = ns
      ? (await run('ip', ['netns', 'exec', ns, 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`])).code === 0
      : await portInUse(port, host);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${host}:${port}${ns ? ` in ${ns}` : ''}`);
}

/**
 * CPU seconds the hypervisor gave to other guests while this one wanted to run (the "steal"
 * column of /proc/stat, all CPUs): on a shared host this, not other processes, can swing a run
 * by tens of percent while the machine looks idle. 0 where the kernel does not count it.
 */
export function stealSeconds() {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    return (Number(cpu[8]) || 0) / HZ;
  } catch {
    return 0;
  }
}

export function loadavg() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * CPU seconds used by processes that are not this benchmark (not us nor any descendant of
 * ours): other people's builds and tests on a shared machine make every figure noisy.
 * Sampled twice a second from /proc; processes that start and end between samples are missed.
 */
export class ForeignCpu {
  constructor(intervalMs = 500) {
    this.last = new Map();
    this.excluded = new Set();
    this.total = 0;
    this.recent = [];
    this.intervalMs = intervalMs;
    this.sample(true);
    this.timer = setInterval(() => this.sample(false), intervalMs);
    this.timer.unref();
  }
  sample(first) {
    const parent = new Map(), ticks = new Map();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parent.set(Number(name), Number(f[1]));
        ticks.set(Number(name), Number(f[11]) + Number(f[12]));
      } catch { /* exited */ }
    }
    const ours = (pid) => {
      for (let p = pid, i = 0; p > 1 && i < 64; p = parent.get(p) ?? 0, i++) if (p === process.pid) return true;
      return false;
    };
    const before = this.total;
    for (const [pid, t] of ticks) {
      // Kernel threads (children of kthreadd, PID 2) do our writeback too; orphans we adopted by PID are ours.
      if (ours(pid) || pid === 2 || parent.get(pid) === 2 || this.excluded.has(pid)) { this.last.delete(pid); continue; }
      const prev = this.last.get(pid);
      if (!first) this.total += (t - (prev ?? t)) / HZ;
      this.last.set(pid, t);
    }
    if (!first) this.recent = [...this.recent, { at: Date.now(), cpu: this.total - before }].slice(-5);
  }
  /**
   * Wait until other processes used less than SHARE of the machine over the last WINDOWMS
   * (at most TIMEOUTMS); resolves with the seconds waited.
   */
  async quiet({ share = 0.1, windowMs = 2000, timeoutMs = 60_000 } = {}) {
    const t0 = Date.now();
    const ncpu = cpus().length;
    for (;;) {
      const win = this.recent.filter((r) => r.at > Date.now() - windowMs - 100);
      const used = win.reduce((a, r) => a + r.cpu, 0);
      if (win.length >= Math.floor(windowMs / this.intervalMs) && used < share * ncpu * (windowMs / 1000)) break;
      if (Date.now() - t0 > timeoutMs) break;
      await sleep(250);
    }
    return (Date.now() - t0) / 1000;
  }
  /** Processes of ours that are not our descendants (daemons a script left running, like netdelay). */
  exclude(pids) { for (const p of pids) this.excluded.add(p); }
  stop() { this.sample(false); clearInterval(this.timer); return this.total; }
}
