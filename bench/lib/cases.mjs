// The three cases of the benchmark and how each tool runs one repetition of them. A runner
// gets the environment the phase set up (servers, Ferry cluster, paths) and returns a record.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clean, countFiles, dropCaches, fileSize, identical, treeBytes, warm } from './data.mjs';
import { ferryTransfer, setTransferConfig } from './ferry.mjs';
import { iperfGoodput, timedAgainst, tlsCeiling } from './peers.mjs';
import { runOk } from './proc.mjs';

export const WAN = { nsA: 'bnA', nsB: 'bnB', ipA: '10.77.0.1', ipB: '10.77.0.2' };

export function defineCases(o) {
  return [
    {
      id: 'a', metric: 'MBps', title: `one ${o.bigMib} MiB file over loopback`,
      tools: [
        { id: 'ferry', label: 'Ferry default (TLS, checksums, verify, fsync)' },
        { id: 'ferry-nofsync', label: 'Ferry, agents with transfer.durable false (no fsync, like the peers)' },
        { id: 'ferry-lean', label: 'Ferry, no fsync and verify_checksum false (no re-read: the peers\' guarantees)' },
        { id: 'ferry-lean-plain', label: 'Ferry, the peers\' guarantees and encrypt_data false (clear text, MAC per chunk)' },
        { id: 'rsync-ssh', label: `rsync over ssh (${o.sshCipher})` },
        { id: 'gridftp-p4', label: 'GridFTP -fast -p 4 (clear text)' },
        { id: 'rsyncd', label: 'rsync daemon --whole-file (clear text)' },
        { id: 'rsyncd-fsync', label: 'rsync daemon --whole-file --fsync' },
        { id: 'tls', label: 'Node TLS 1.3 ceiling, memory to memory' },
      ],
    },
    {
      id: 'b', metric: 'files', title: `${o.smallFiles} files of ${o.smallKib} KiB in ${o.smallDirs} directories over loopback`,
      tools: [
        { id: 'ferry', label: 'Ferry default (TLS, checksums, verify, fsync)' },
        { id: 'ferry-nofsync', label: 'Ferry, agents with transfer.durable false (no fsync, like the peers)' },
        { id: 'ferry-lean', label: 'Ferry, no fsync and verify_checksum false (the peers\' guarantees)' },
        { id: 'ferry-lean-plain', label: 'Ferry, the peers\' guarantees and encrypt_data false (clear text, MAC per chunk)' },
        { id: 'rsyncd', label: 'rsync daemon -a (clear text)' },
        { id: 'rsyncd-fsync', label: 'rsync daemon -a --fsync' },
        { id: 'gridftp-cc4', label: 'GridFTP -fast -cc 4 -pp -cd -r (clear text)' },
      ],
    },
    {
      id: 'c', metric: 'MBps', title: `one ${o.wanMib} MiB file over the emulated WAN (50 ms RTT, 1 Gbit/s, 0.1 % loss)`,
      tools: [
        { id: 'ferry', label: `Ferry default${o.wanParallelism ? `, parallelism ${o.wanParallelism}` : ''} (TLS, checksums, verify, fsync)` },
        { id: 'ferry-nofsync', label: 'Ferry, agents with transfer.durable false (no fsync, like the peers)' },
        { id: 'gridftp-p8', label: 'GridFTP -fast -p 8 (clear text)' },
        { id: 'iperf-P8', label: `iperf3 -P 8 -R, ${o.iperfSecs} s (link goodput)` },
      ],
    },
    {
      // The same link with cubic as both hosts' default (most distributions'): Ferry's agents
      // choose their streams' congestion control themselves (transfer.congestionControl 'auto');
      // the peers get the hosts' default.
      id: 'd', metric: 'MBps', title: `one ${o.wanMib} MiB file over the same WAN, cubic as the hosts' default congestion control`,
      tools: [
        { id: 'ferry', label: 'Ferry default (its agents ask for bbr per socket)' },
        { id: 'ferry-cubic', label: 'Ferry, agents pinned to cubic (transfer.congestionControl, as where bbr is missing or not allowed): spare streams on loss' },
        { id: 'gridftp-p8', label: 'GridFTP -fast -p 8 (clear text, cubic)' },
        { id: 'iperf-P8', label: `iperf3 -P 8 -R, ${o.iperfSecs} s (cubic)` },
        { id: 'iperf-P8-bbr', label: `iperf3 -P 8 -R -C bbr, ${o.iperfSecs} s (what the link carries with bbr)` },
      ],
    },
    {
      // A tree of mixed sizes (lib/data.mjs mixedTree), every run of every tool cold: the
      // destination removed, dirty pages written back and the page cache dropped before it.
      id: 'e', metric: 'MBps', countsFiles: true, cold: true,
      title: `mixed tree over loopback: ${o.mixed?.files ?? '?'} files, ${o.mixed ? (o.mixed.bytes / 2 ** 20).toFixed(0) : '?'} MiB in ${o.mixed?.dirs ?? '?'} directories (6 of 16-64 MiB, 250 of 1-4 MiB, 5000 of 1-64 KiB, seed 13), caches dropped before every run`,
      tools: [
        { id: 'ferry', label: 'Ferry default (TLS, checksums, verify, fsync)' },
        { id: 'ferry-nofsync', label: 'Ferry, agents with transfer.durable false (no fsync)' },
        { id: 'ferry-lean', label: 'Ferry, no fsync and verify_checksum false (the peers\' guarantees)' },
        { id: 'ferry-lean-plain', label: 'Ferry, the peers\' guarantees and encrypt_data false (clear text, MAC per chunk)' },
        { id: 'rsync-ssh', label: `rsync -a --whole-file over ssh (${o.sshCipher})` },
        { id: 'rsyncd', label: 'rsync daemon -a --whole-file (clear text)' },
        { id: 'gridftp-cc4p4', label: 'GridFTP -fast -cc 4 -p 4 -cd -r (clear text)' },
      ],
    },
  ];
}

/** Cases run over the emulated WAN (the rest run over loopback). */
export const WAN_CASES = ['c', 'd'];

/** Paths of every case under DATA. */
export function casePaths(data) {
  return {
    a: { src: join(data, 'src', 'big.bin'), api: '/~/big.bin', dstDir: join(data, 'dst', 'a'), dst: join(data, 'dst', 'a', 'big.bin'), dstApi: '/~/a/big.bin' },
    b: { src: join(data, 'src', 'small'), api: '/~/small/', dstDir: join(data, 'dst', 'b'), dst: join(data, 'dst', 'b'), dstApi: '/~/b/' },
    c: { src: join(data, 'src', 'wan.bin'), api: '/~/wan.bin', dstDir: join(data, 'dst', 'c'), dst: join(data, 'dst', 'c', 'wan.bin'), dstApi: '/~/c/wan.bin' },
    d: { src: join(data, 'src', 'wan.bin'), api: '/~/wan.bin', dstDir: join(data, 'dst', 'd'), dst: join(data, 'dst', 'd', 'wan.bin'), dstApi: '/~/d/wan.bin' },
    e: { src: join(data, 'src', 'mixed'), api: '/~/mixed/', dstDir: join(data, 'dst', 'e'), dst: join(data, 'dst', 'e'), dstApi: '/~/e/' },
  };
}

/**
 * One repetition of TOOL in case C. ENV: {paths, bytes, files, servers: {gridftp, rsyncd, sshd,
 * iperf}, ferry (cluster), opts, verify (compare contents after this run)}.
 */
export async function runOne(c, tool, env) {
  const p = env.paths[c.id];
  const rec = { case: c.id, tool: tool.id };
  if (tool.id !== 'tls' && !tool.id.startsWith('iperf')) {
    // Many-file destinations go to the trash (lib/data.mjs Trash): removing them would make
    // the next run's file creation pay for it.
    const manyFiles = c.metric === 'files' || c.countsFiles;
    if (manyFiles && env.trash) {
      await env.trash.retire(p.dstDir, env.bytes[c.id]);
      await runOk('sync', []);
      await env.trash.quiet();
    } else {
      await clean(p.dstDir);
    }
    mkdirSync(p.dstDir, { recursive: true });
    // Case e starts cold (the source read from disk); the others warm the source first.
    if (c.cold) await dropCaches();
    else await warm(p.src);
  }
  const s = env.servers;
  const wan = WAN_CASES.includes(c.id);
  const ns = wan ? WAN.nsA : undefined;
  const host = wan ? WAN.ipB : '127.0.0.1';
  let r;
  switch (`${c.id}:${tool.id}`) {
    case 'a:ferry': case 'b:ferry': case 'c:ferry': case 'd:ferry': case 'd:ferry-cubic':
    case 'a:ferry-nofsync': case 'b:ferry-nofsync': case 'c:ferry-nofsync': case 'a:ferry-lean':
    case 'e:ferry': case 'e:ferry-nofsync': case 'e:ferry-lean': case 'b:ferry-lean':
    case 'a:ferry-lean-plain': case 'b:ferry-lean-plain': case 'e:ferry-lean-plain': {
      const options = wan && env.opts.wanParallelism ? { parallelism: env.opts.wanParallelism } : {};
      // Shows what the CPU spent on Ferry's default guarantees costs in rate (rsync checks a
      // whole-file checksum as it receives, but neither re-reads nor fsyncs).
      if (tool.id === 'ferry-lean' || tool.id === 'ferry-lean-plain') options.verify_checksum = false;
      // The peers move data in clear text; so does this row (AES-GMAC per frame instead of TLS).
      if (tool.id === 'ferry-lean-plain') options.encrypt_data = false;
      if (env.opts.checksum) options.checksum_algorithm = env.opts.checksum;
      // The same running agents: agent.json's transfer section changed and reloaded with SIGHUP.
      const patch = tool.id === 'ferry-cubic' ? { congestionControl: 'cubic' } : tool.id === 'ferry' ? null : { durable: false };
      const undo = tool.id === 'ferry-cubic' ? { congestionControl: 'auto' } : { durable: true };
      if (patch) await setTransferConfig(env.ferry, patch);
      try {
        r = await ferryTransfer(env.ferry, { src: 'src', dst: 'dst', sourcePath: p.api, destinationPath: p.dstApi, recursive: c.id === 'b' || c.id === 'e', options });
      } finally {
        if (patch) await setTransferConfig(env.ferry, undo);
      }
      break;
    }
    case 'a:rsync-ssh':
      r = await timedAgainst([s.sshd], 'rsync', ['-a', '--whole-file', '-e', s.sshd.ssh, `root@127.0.0.1:${p.src}`, p.dst]);
      break;
    case 'a:gridftp-p4':
      r = await timedAgainst([s.gridftp], 'globus-url-copy', ['-fast', '-p', '4', `ftp://${host}:${s.gridftp.port}${p.src}`, `file://${p.dst}`]);
      break;
    case 'a:rsyncd': case 'a:rsyncd-fsync':
      r = await timedAgainst([s.rsyncd], 'rsync', ['-a', '--whole-file', ...(tool.id === 'rsyncd-fsync' ? ['--fsync'] : []), `rsync://${host}:${s.rsyncd.port}/data/src/big.bin`, p.dst]);
      break;
    case 'a:tls':
      r = await tlsCeiling({ bytes: env.bytes.a, workDir: env.workDir, logDir: env.logDir });
      break;
    case 'b:rsyncd': case 'b:rsyncd-fsync':
      r = await timedAgainst([s.rsyncd], 'rsync', ['-a', ...(tool.id === 'rsyncd-fsync' ? ['--fsync'] : []), `rsync://${host}:${s.rsyncd.port}/data/src/small/`, `${p.dst}/`]);
      break;
    case 'e:rsync-ssh':
      r = await timedAgainst([s.sshd], 'rsync', ['-a', '--whole-file', '-e', s.sshd.ssh, `root@127.0.0.1:${p.src}/`, `${p.dst}/`]);
      break;
    case 'e:rsyncd':
      r = await timedAgainst([s.rsyncd], 'rsync', ['-a', '--whole-file', `rsync://${host}:${s.rsyncd.port}/data/src/mixed/`, `${p.dst}/`]);
      break;
    case 'e:gridftp-cc4p4':
      r = await timedAgainst([s.gridftp], 'globus-url-copy', ['-fast', '-cc', '4', '-p', '4', '-cd', '-r', `ftp://${host}:${s.gridftp.port}${p.src}/`, `file://${p.dst}/`]);
      break;
    case 'b:gridftp-cc4':
      r = await timedAgainst([s.gridftp], 'globus-url-copy', ['-fast', '-cc', '4', '-pp', '-cd', '-r', `ftp://${host}:${s.gridftp.port}${p.src}/`, `file://${p.dst}/`]);
      break;
    case 'c:gridftp-p8': case 'd:gridftp-p8':
      r = await timedAgainst([s.gridftp], 'globus-url-copy', ['-fast', '-p', '8', `ftp://${host}:${s.gridftp.port}${p.src}`, `file://${p.dst}`], { ns });
      break;
    case 'c:iperf-P8': case 'd:iperf-P8': case 'd:iperf-P8-bbr': {
      const g = await iperfGoodput(s.iperf, { streams: 8, secs: env.opts.iperfSecs, ns, congestion: tool.id.endsWith('-bbr') ? 'bbr' : undefined });
      return { ...rec, ok: true, MBps: g.MBps, wall: env.opts.iperfSecs, retransmits: g.retransmits, cpu: NaN, rssMb: NaN };
    }
    default:
      throw new Error(`no runner for ${c.id}:${tool.id}`);
  }
  Object.assign(rec, r);
  if (!tool.id.startsWith('ferry')) rec.ok = r.code === 0;
  if (!rec.ok && !rec.error) rec.error = (r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  if (tool.id === 'tls') {
    rec.MBps = env.bytes.a / 1e6 / r.wall;
    return rec;
  }
  // What arrived must be complete; contents are compared byte for byte on the last repetition.
  const files = env.fileCounts?.[c.id] ?? env.files;
  if (rec.ok) {
    if (c.metric === 'files' || c.countsFiles) {
      const got = countFiles(p.dst);
      if (got !== files) { rec.ok = false; rec.error = `${got} files arrived, not ${files}`; }
    }
    if (c.countsFiles) {
      const got = treeBytes(p.dst);
      if (rec.ok && got !== env.bytes[c.id]) { rec.ok = false; rec.error = `${got} bytes arrived, not ${env.bytes[c.id]}`; }
    } else if (c.metric !== 'files') {
      const got = fileSize(p.dst);
      if (got !== env.bytes[c.id]) { rec.ok = false; rec.error = `size ${got} != ${env.bytes[c.id]}`; }
    }
  }
  if (rec.ok && env.verify && !(await identical(p.src, p.dst))) { rec.ok = false; rec.error = 'contents differ from the source'; }
  const bytes = env.bytes[c.id];
  rec.MBps = bytes / 1e6 / rec.wall;
  if (c.metric === 'files' || c.countsFiles) rec.filesPerS = files / rec.wall;
  // Of the task document only what the table's notes use: how many streams carried data.
  if (rec.task) rec.parallelism = rec.task.parallelism;
  delete rec.stdout;
  delete rec.stderr;
  delete rec.task;
  return rec;
}
