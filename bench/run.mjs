#!/usr/bin/env node
// Ferry's benchmark: Ferry beside GridFTP, rsync (daemon and over ssh), iperf3 and Node's TLS
// ceiling on this machine, in the same run. `npm run bench -- --help` for the options;
// README.md beside this file says what each case measures and how to read the table.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WAN, WAN_CASES, casePaths, defineCases, runOne } from './lib/cases.mjs';
import { Trash, mixedTree, randomFile, smallTree } from './lib/data.mjs';
import { ferryBuilt, ferryTransfer, startFerryCluster, stopFerryCluster } from './lib/ferry.mjs';
import { startGridftp, startIperf, startRsyncd, startSshd } from './lib/peers.mjs';
import { ensurePrereqs } from './lib/prereq.mjs';
import { ForeignCpu, RssSampler, killOwned, loadavg, log, run, stealSeconds } from './lib/proc.mjs';
import { diskBoundNote, diskLine, probeDisk } from './lib/disk.mjs';
import { judge, markdownTable, summarize, targetLines, textTable } from './lib/report.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const WAN_SH = join(HERE, 'wan.sh');
const RSS_LIMIT_MB = 250;
/** Longest total wait for an idle machine in one bench run (keeps the run under ~15 minutes). */
const WAIT_BUDGET_S = 180;

const HELP = `usage: npm run bench -- [options]   (builds, then runs node bench/run.mjs; as root)
  --reps N            repetitions per tool, medians reported (default $REPS or 3)
  --cases LIST        a,b,c,d,e (default all): a = large file on loopback, b = small files, c = WAN,
                      d = the same WAN with cubic as the hosts' default congestion control,
                      e = mixed tree (~1 GiB) on loopback, caches dropped before every run
  --tools LIST        only these tool ids (ferry, ferry-nofsync, ferry-lean, ferry-lean-plain, ferry-cubic, rsync-ssh, gridftp-p4, rsyncd, rsyncd-fsync, tls,
                      gridftp-cc4, gridftp-p8, iperf-P8, iperf-P8-bbr, gridftp-cc4p4)
  --data DIR          test data and destinations (default /tmp/ferry-bench; needs ~8 GiB free, and
                      earlier destinations wait in DATA/trash: up to half of what is left)
  --results DIR       logs, results.json and table.md (default DATA/results)
  --big-mib N         case a file size (default 2048)      --wan-mib N   case c size (default 1024)
  --small-files N     case b file count (default 20000)    --small-kib N (4)   --small-dirs N (100)
  --wan-parallelism N Ferry's parallelism in case c (default: Ferry's default)
  --checksum ALG      Ferry's checksum_algorithm: sha256, md5 or xxh128 (default: Ferry's default)
  --iperf-secs N      iperf3 run length in case c (default 10)
  --ssh-cipher C      cipher for rsync over ssh (default aes128-gcm@openssh.com)
  --wait-idle S       before each run, wait up to S seconds until other processes use < 10 % of
                      the CPU (default 60; 0 = never wait; at most 180 s in all)
  --install           apt-get install missing prerequisites (root)
  --keep-data         keep the generated data (it is reused when its size matches)
`;

function checksumOption(v) {
  if (v === undefined) return undefined;
  if (!['sha256', 'md5', 'xxh128'].includes(v.toLowerCase())) throw new Error(`--checksum: expected sha256, md5 or xxh128, got ${v}`);
  return v.toLowerCase();
}

function options() {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string' }, cases: { type: 'string', default: 'a,b,c,d,e' }, tools: { type: 'string' },
      data: { type: 'string', default: '/tmp/ferry-bench' }, results: { type: 'string' },
      'big-mib': { type: 'string', default: '2048' }, 'wan-mib': { type: 'string', default: '1024' },
      'small-files': { type: 'string', default: '20000' }, 'small-kib': { type: 'string', default: '4' },
      'small-dirs': { type: 'string', default: '100' }, 'wan-parallelism': { type: 'string' }, checksum: { type: 'string' },
      'iperf-secs': { type: 'string', default: '10' }, 'ssh-cipher': { type: 'string', default: 'aes128-gcm@openssh.com' },
      'wait-idle': { type: 'string', default: '60' },
      install: { type: 'boolean', default: false }, 'keep-data': { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
  });
  if (values.help) { process.stdout.write(HELP); process.exit(0); }
  const int = (name, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
    return n;
  };
  return {
    reps: int('reps', values.reps ?? process.env.REPS ?? '3'),
    cases: values.cases.split(',').map((s) => s.trim()).filter(Boolean),
    tools: values.tools ? values.tools.split(',').map((s) => s.trim()) : undefined,
    data: values.data, results: values.results ?? join(values.data, 'results'),
    bigMib: int('big-mib', values['big-mib']), wanMib: int('wan-mib', values['wan-mib']),
    smallFiles: int('small-files', values['small-files']), smallKib: int('small-kib', values['small-kib']), smallDirs: int('small-dirs', values['small-dirs']),
    wanParallelism: values['wan-parallelism'] ? int('wan-parallelism', values['wan-parallelism']) : undefined,
    checksum: checksumOption(values.checksum),
    iperfSecs: int('iperf-secs', values['iperf-secs']), sshCipher: values['ssh-cipher'],
    install: values.install, keepData: values['keep-data'], waitIdle: Number(values['wait-idle']) || 0,
  };
}

const ALLOWED_CC = '/proc/sys/net/ipv4/tcp_allowed_congestion_control';
const allowedCc = () => readFileSync(ALLOWED_CC, 'utf8').trim().split(/\s+/);
/** The host's allowed list before case d added cubic to it; put back when the WAN phase ends. */
let allowedCcBefore;
function restoreAllowedCc() {
  if (allowedCcBefore === undefined) return;
  try { writeFileSync(ALLOWED_CC, allowedCcBefore); } catch { /* reported below by the next run's check */ }
  allowedCcBefore = undefined;
}
let wanIsUp = false;
let wanEnv = process.env;
function wan(verb) {
  execFileSync('bash', [WAN_SH, verb], { stdio: 'inherit', env: wanEnv });
  wanIsUp = verb === 'up';
}
function teardown() {
  killOwned();
  if (wanIsUp) { try { wan('down'); } catch { /* reported by wan.sh */ } }
  restoreAllowedCc();
}
process.on('exit', teardown);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`${sig}: tearing down`); process.exit(130); });

async function machineInfo() {
  const v = async (cmd, args) => { const r = await run(cmd, args); return (r.stdout.trim() || r.stderr.trim()).split('\n')[0]; };
  const pkg = JSON.parse(readFileSync(join(HERE, '..', 'package.json'), 'utf8'));
  return {
    date: new Date().toISOString(), nproc: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: (await run('uname', ['-r'])).stdout.trim(), node: process.version, ferry: pkg.version,
    rsync: await v('rsync', ['--version']), gridftp: await v('globus-url-copy', ['-version']), iperf3: await v('iperf3', ['--version']),
    ssh: (await run('ssh', ['-V'])).stderr.trim(),
    tcp: `cc=${readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim()} wmem=${readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().replace(/\s+/g, ' ')}`,
  };
}

const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));

/**
 * The order of a case's tools in repetition REP (1-based). A run can leave work behind that
 * slows the next one (after rsync daemon --fsync wrote 2 GiB, the next durable 2 GiB write on the
 * bench machine ran 18-35 % slower, though the guest saw nothing left to write), so with one
 * fixed order a tool would pay for the same neighbour every time. Each repetition walks the list
 * with another stride coprime to its length (1, n-1, 2, n-2, …), starting one further down:
 * rotations alone would keep every tool's predecessor, these give it a different one in each of
 * the first three repetitions.
 */
function runOrder(tools, rep) {
  const n = tools.length;
  if (n <= 1) return [...tools];
  const strides = [];
  for (let k = 1; k < n; k++) for (const s of [k, n - k]) if (gcd(s, n) === 1 && !strides.includes(s)) strides.push(s);
  const stride = strides[(rep - 1) % strides.length];
  return tools.map((_, j) => tools[(rep - 1 + j * stride) % n]);
}

/** Runs every selected tool of the given cases REPS times, interleaved (rep 1 of each tool, then rep 2 …), each repetition in its own order (runOrder). */
async function runCases(cases, env, opts, records, selected) {
  for (const c of cases) {
    const tools = c.tools.filter((t) => selected(t.id));
    log(`case (${c.id}): ${c.title}; tools: ${tools.map((t) => t.id).join(', ')}`);
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const tool of runOrder(tools, rep)) {
        if (tool.pending) continue;   // a row for a Ferry option that does not exist yet
        if (tool.id.startsWith('ferry') && !env.ferry) {
          records.push({ case: c.id, tool: tool.id, rep, ok: false, error: env.ferryError });
          continue;
        }
        // On a shared machine, start each run only once other work has calmed down.
        const budget = Math.min(opts.waitIdle, env.waitBudgetS);
        const waited = budget > 0 ? await env.foreign.quiet({ timeoutMs: budget * 1000 }) : 0;
        env.waitBudgetS -= waited;
        if (waited > 1) log(`  waited ${waited.toFixed(0)} s for other processes to calm down`);
        const f0 = env.foreign.total;
        const steal0 = stealSeconds();
        let rec;
        try {
          rec = await runOne(c, tool, { ...env, verify: rep === opts.reps });
        } catch (err) {
          rec = { case: c.id, tool: tool.id, ok: false, error: err.message };
        }
        env.foreign.sample(false);
        rec.foreignCpu = env.foreign.total - f0;
        rec.stealCpu = stealSeconds() - steal0;
        rec.rep = rep;
        records.push(rec);
        const rate = c.metric === 'files' ? `${Math.round(rec.filesPerS)} files/s` : `${rec.MBps?.toFixed(1)} MB/s${c.countsFiles ? `, ${Math.round(rec.filesPerS)} files/s` : ''}`;
        rec.noisy = rec.foreignCpu > 0.1 * (rec.wall || 1) * cpus().length;
        log(`  (${c.id}) ${tool.id} rep ${rep}: ${rec.ok ? `${rec.wall?.toFixed(2)} s, ${rate}${Number.isFinite(rec.cpu) ? `, CPU ${rec.cpu.toFixed(2)} s, RSS ${rec.rssMb.toFixed(0)} MB` : ''}` : `FAILED: ${rec.error}`}` +
          (rec.noisy ? ` (other processes used ${rec.foreignCpu.toFixed(1)} CPU s meanwhile)` : '') +
          (rec.stealCpu >= 0.05 ? ` (hypervisor steal ${rec.stealCpu.toFixed(2)} CPU s)` : ''));
      }
    }
  }
}

async function startFerry(env, spec) {
  try {
    env.ferry = await startFerryCluster(spec);
    for (const [k, a] of Object.entries(env.ferry.agents)) env.sampler.watch(`${spec.name}-agent-${k}`, a.proc.pid);
    // A daemon's first task pays for lazily loaded modules, JIT and worker start-up (about 1 s);
    // a long-running agent has paid it long ago, so one small untimed task goes first.
    randomFile(join(env.opts.data, 'src', 'warmup.bin'), 1 << 20);
    const w = await ferryTransfer(env.ferry, { src: 'src', dst: 'dst', sourcePath: '/~/warmup.bin', destinationPath: '/~/warmup/warmup.bin' });
    if (!w.ok) throw new Error(`warm-up transfer failed: ${w.error}`);
    rmSync(join(env.opts.data, 'dst', 'warmup'), { recursive: true, force: true });
  } catch (err) {
    env.ferry = undefined;
    env.ferryError = `Ferry did not start: ${err.message.split('\n')[0]}`;
    log(env.ferryError);
  }
}

async function stopFerry(env) {
  if (!env.ferry) return;
  for (const k of Object.keys(env.ferry.agents)) env.sampler.unwatch(`${env.ferry.name}-agent-${k}`);
  await stopFerryCluster(env.ferry);
  env.ferry = undefined;
}

/** Median TCP connect time from bnA to a port in bnB: the RTT TCP sees (ping under-reports it here). */
async function wanRtt(port) {
  const js = `const net=require('net');const r=[];(async()=>{for(let i=0;i<5;i++){const t=process.hrtime.bigint();await new Promise((ok,no)=>{const s=net.connect(${port},'${WAN.ipB}',()=>{s.destroy();ok()});s.on('error',no)});r.push(Number(process.hrtime.bigint()-t)/1e6);await new Promise(ok=>setTimeout(ok,50))}r.sort((a,b)=>a-b);console.log(r[2].toFixed(1))})()`;
  return (await run('node', ['-e', js], { ns: WAN.nsA })).stdout.trim();
}

async function main() {
  const opts = options();
  const t0 = Date.now();
  await ensurePrereqs({ install: opts.install });
  if (!ferryBuilt()) throw new Error('Ferry is not built: run `npm run build` first (npm run bench does)');
  const logDir = join(opts.results, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  mkdirSync(logDir, { recursive: true });
  mkdirSync(join(opts.data, 'src'), { recursive: true, mode: 0o755 });
  mkdirSync(join(opts.data, 'dst'), { recursive: true });
  const info = await machineInfo();
  info.loadStart = loadavg();
  info.stealStart = stealSeconds();
  if (info.loadStart > 0.5) log(`WARNING: load average ${info.loadStart.toFixed(2)} before the start: something else is using the CPU, figures will be noisy`);
  log(`machine: ${info.nproc} cores, ${info.cpu}, ${info.memGiB} GiB, kernel ${info.kernel}, node ${info.node}, ${info.tcp}`);

  const has = (cid) => opts.cases.includes(cid);
  // Case e's tree is made first: its title gives the exact composition.
  log('preparing data (kept between runs when the sizes match)');
  const trash = new Trash(join(opts.data, 'trash'));
  await trash.empty();   // an earlier run's
  if (has('e')) opts.mixed = mixedTree(join(opts.data, 'src', 'mixed'));
  if (opts.mixed?.made) trash.freedNow();   // the tree it replaced
  const allCases = defineCases(opts).filter((c) => opts.cases.includes(c.id));
  const selected = (id) => !opts.tools || opts.tools.includes(id);
  const paths = casePaths(opts.data);
  const bytes = { a: opts.bigMib * 2 ** 20, b: opts.smallFiles * opts.smallKib * 1024, c: opts.wanMib * 2 ** 20, d: opts.wanMib * 2 ** 20, e: opts.mixed?.bytes };
  if (has('a')) randomFile(paths.a.src, bytes.a);
  if (has('b') && smallTree(paths.b.src, opts.smallFiles, opts.smallKib, opts.smallDirs)) trash.freedNow();
  if (has('c') || has('d')) randomFile(paths.c.src, bytes.c);

  // The device under the destinations, before the first case and after the last (it changes on
  // a shared host; the durable rows follow it).
  const disk = { start: await probeDisk(join(opts.data, 'dst')), end: null };
  log(diskLine(disk.start, null));
  const records = [];
  const env = { paths, bytes, files: opts.smallFiles, fileCounts: { e: opts.mixed?.files }, opts, trash, logDir, workDir: join(opts.results, 'work'), servers: {}, sampler: new RssSampler(200), foreign: new ForeignCpu(), waitBudgetS: WAIT_BUDGET_S };
  const stopServers = async () => { for (const s of Object.values(env.servers)) await s.stop(); env.servers = {}; };
  const loopCases = allCases.filter((c) => !WAN_CASES.includes(c.id));
  const wanCases = allCases.filter((c) => WAN_CASES.includes(c.id));
  if (loopCases.length > 0) {
    log('loopback phase: starting GridFTP, rsync daemon, sshd and Ferry (control + 2 agents)');
    env.servers.gridftp = await startGridftp({ logDir });
    env.servers.rsyncd = await startRsyncd({ root: opts.data, logDir });
    if ((has('a') || has('e')) && selected('rsync-ssh')) env.servers.sshd = await startSshd({ workDir: join(env.workDir, 'ssh'), logDir, cipher: opts.sshCipher });
    if (selected('ferry') || selected('ferry-nofsync') || selected('ferry-lean') || selected('ferry-lean-plain')) {
      await startFerry(env, { name: 'lo', dir: join(opts.data, 'ferry-lo'), logDir, agents: [
        { key: 'src', root: join(opts.data, 'src') }, { key: 'dst', root: join(opts.data, 'dst') }] });
    }
    try {
      await runCases(loopCases, env, opts, records, selected);
    } finally {
      await stopFerry(env);
      await stopServers();
      for (const c of ['b', 'e']) await trash.retire(paths[c].dstDir, 0);
      await trash.empty();
    }
  }
  if (wanCases.length > 0) {
    log('WAN phase: bench/wan.sh up');
    wanEnv = { ...process.env, WAN_STATE_DIR: join(opts.results, 'wan') };
    wanIsUp = true;   // a half-built link is torn down too
    wan('up');
    try {
      env.foreign.exclude(readFileSync(join(opts.results, 'wan', 'netdelay.pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number));
    } catch { /* no delay on the link */ }
    try {
      env.servers.gridftp = await startGridftp({ host: WAN.ipB, ns: WAN.nsB, logDir });
      if (selected('iperf-P8') || selected('iperf-P8-bbr')) env.servers.iperf = await startIperf({ host: WAN.ipB, ns: WAN.nsB, logDir });
      info.wanDefaultCc = execFileSync('ip', ['netns', 'exec', WAN.nsA, 'cat', '/proc/sys/net/ipv4/tcp_congestion_control'], { encoding: 'utf8' }).trim();
      info.wanRttMs = await wanRtt(env.servers.gridftp.port);
      log(`WAN: TCP connect RTT (median of 5) ${info.wanRttMs} ms`);
      if (['ferry', 'ferry-nofsync', 'ferry-lean', 'ferry-lean-plain', 'ferry-cubic'].some(selected)) {
        // Control sits on bnA's side; the source agent reaches it across the emulated link.
        await startFerry(env, { name: 'wan', dir: join(opts.data, 'ferry-wan'), logDir, control: { ns: WAN.nsA, host: WAN.ipA }, agents: [
          { key: 'src', root: join(opts.data, 'src'), ns: WAN.nsB, host: WAN.ipB },
          { key: 'dst', root: join(opts.data, 'dst'), ns: WAN.nsA, host: WAN.ipA }] });
      }
      for (const c of wanCases) {
        // New sockets in the namespaces take this default; Ferry's agents choose their own ('auto').
        const cc = c.id === 'd' ? 'cubic' : info.wanDefaultCc;
        // A namespace other than the host's may only default to an algorithm the host allows.
        if (!allowedCc().includes(cc)) {
          allowedCcBefore ??= allowedCc().join(' ');
          writeFileSync(ALLOWED_CC, `${allowedCc().join(' ')} ${cc}`);
        }
        for (const ns of [WAN.nsA, WAN.nsB]) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.tcp_congestion_control=${cc}`]);
        log(`case (${c.id}): the namespaces' default congestion control is ${cc}`);
        await runCases([c], env, opts, records, selected);
      }
    } finally {
      await stopFerry(env);
      await stopServers();
      wan('down');
      restoreAllowedCc();
    }
  }
  env.sampler.stop();

  disk.end = await probeDisk(join(opts.data, 'dst'));
  info.disk = disk;
  log(diskLine(disk.start, disk.end));
  const rows = summarize(records, allCases);
  const agentRss = [...env.sampler.max.values()];
  const maxAgentRssMb = agentRss.length ? Math.max(...agentRss) : NaN;
  const verdicts = judge(rows, { rssLimitMb: RSS_LIMIT_MB, maxAgentRssMb });
  const minutes = (Date.now() - t0) / 60000;
  info.loadEnd = loadavg();
  info.foreignCpuS = env.foreign.stop();
  info.stealCpuS = stealSeconds() - info.stealStart;
  const head = [
    `Ferry ${info.ferry} benchmark, ${info.date}, ${opts.reps} reps (medians), ${minutes.toFixed(1)} min`,
    `machine: ${info.nproc} cores (${info.cpu}), ${info.memGiB} GiB, kernel ${info.kernel}, node ${info.node}; ${info.tcp}`,
    `other processes used ${info.foreignCpuS.toFixed(0)} CPU s during the run (load average ${info.loadStart.toFixed(2)} at the start, ${info.loadEnd.toFixed(2)} at the end)${info.foreignCpuS > 0.05 * minutes * 60 * info.nproc ? ' — NOISY, rerun on an idle machine' : ''}; the hypervisor took ${info.stealCpuS.toFixed(1)} CPU s (steal)`,
    diskLine(disk.start, disk.end),
    `peers: ${info.rsync.replace(/\s+/g, ' ')}; ${info.gridftp}; ${info.iperf3}; ${info.ssh}${info.wanRttMs ? `; WAN TCP RTT ${info.wanRttMs} ms` : ''}`,
    'Medians of the repetitions; "range" is min–max of the case\'s own rate (MB/s in a, c, d and e, files/s in b).',
    'MB = 10^6 bytes. CPU = user+sys seconds of every process of the tool (Ferry: both agents and control; peers: client and',
    'server session). Peak RSS: Ferry = largest agent VmHWM in the run (reset before it); peers = largest client process.',
    'Durability: Ferry\'s default (the targets\' rows) puts every file on the device before renaming it into place (an fsync,',
    'or one error-free syncfs for a group of small files on ext4, XFS or Btrfs) and fsyncs each directory; the "transfer.durable false" rows are the same agents without fsync (page cache only), like the peers,',
    'which never fsync except the rows marked --fsync.',
    ...(opts.checksum ? [`Ferry's tasks ask for checksum_algorithm ${opts.checksum} (--checksum).`] : []),
    ...(has('e') ? ['Caches: in case e every run of every tool starts cold: the destination removed, `sync`, then',
      '`echo 3 > /proc/sys/vm/drop_caches`; cases a and b read their source into the page cache before every run.'] : []),
  ];
  const cases = allCases.map((c) => `(${c.id}) ${c.title}`);
  const failures = rows.filter((r) => r.errors.length > 0).map((r) => `(${r.case}) ${r.tool}: ${r.errors[0]}`);
  const notes = rows.filter((r) => r.tool === 'ferry' && Number.isFinite(r.controlCpu))
    .map((r) => `(${r.case}) Ferry CPU includes control's ${r.controlCpu.toFixed(2)} s (it also answers the harness's task polls, every 1 % of the elapsed time)`);
  // What the task documents say ran: spare streams put to work show as more than asked.
  for (const c of ['c', 'd']) {
    for (const tool of [...new Set(records.filter((r) => r.case === c && r.tool.startsWith('ferry')).map((r) => r.tool))]) {
      const used = records.filter((r) => r.case === c && r.tool === tool && r.ok && r.parallelism !== undefined).map((r) => r.parallelism);
      if (used.length) notes.push(`(${c}) ${tool}: the task documents' parallelism (streams that carried data) ${used.join(', ')}`);
    }
  }
  notes.push(...diskBoundNote(rows, disk));
  const noisy = records.filter((r) => r.noisy).length;
  notes.push(`${noisy} of ${records.length} runs had other processes using more than 10 % of the CPU meanwhile`);
  if (Number.isFinite(maxAgentRssMb)) notes.push(`largest agent RSS sampled every 200 ms over the whole run, start-up included: ${maxAgentRssMb.toFixed(0)} MB`);
  const text = [...head, '', ...cases, '', textTable(rows, allCases), '', 'Targets:', ...targetLines(verdicts), '', ...notes,
    ...(failures.length ? ['', 'Failures:', ...failures] : [])].join('\n');
  process.stdout.write(`\n${text}\n`);
  const md = [...head.map((l) => `${l}  `), '', ...cases.map((l) => `- ${l}`), '', markdownTable(rows, allCases), '',
    '**Targets**', '', ...targetLines(verdicts).map((l) => `- ${l}`), '', ...notes.map((l) => `- ${l}`), ...(failures.length ? ['', '**Failures**', '', ...failures.map((l) => `- ${l}`)] : []), ''].join('\n');
  mkdirSync(opts.results, { recursive: true });
  writeFileSync(join(opts.results, 'table.md'), md);
  writeFileSync(join(opts.results, 'results.json'), `${JSON.stringify({ info, opts, records, rows, verdicts, maxAgentRssMb, agentRss: Object.fromEntries(env.sampler.max) }, null, 2)}\n`);
  log(`wrote ${join(opts.results, 'table.md')} and results.json (logs in ${logDir})`);
  rmSync(env.workDir, { recursive: true, force: true });   // throw-away keys
  for (const d of ['dst', 'trash', 'ferry-lo', 'ferry-wan', ...(opts.keepData ? [] : ['src'])]) rmSync(join(opts.data, d), { recursive: true, force: true });
}

main().catch((err) => {
  log(`bench failed: ${err.message}`);
  process.exitCode = 1;
});
