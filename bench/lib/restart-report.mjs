// The restart benchmark's table (bench/restart.mjs): one row per run, interrupted runs beside
// their tool's uninterrupted baseline, as plain text and as Markdown.
import { cpus } from 'node:os';

const MB = (b) => (Number.isFinite(b) ? (b / 1e6).toFixed(0) : '-');
const S = (s) => (Number.isFinite(s) ? s.toFixed(2) : '-');

const COLUMNS = [
  'tool', 'interruption', 'result', 'total s', 'on disk at kill MB', 'sent before restart MB', 'kept (RESUMED) MB',
  'restart→agent up s', 'restart→disk grows s', 'restart→wire +1 MiB s', 'wire MB', 're-sent: wire − size MB', 're-sent: wire − baseline MB', 'notes',
];

function cells(r, baselines) {
  const base = baselines.get(`${r.family}:${r.rep}`);
  const interrupted = r.onDiskAtKill !== undefined;
  const notes = [
    r.gaveUp, r.rerun ? 'rerun by the bench after the client gave up' : undefined,
    r.firstExit ? `killed client exited ${r.firstExit.code ?? r.firstExit.signal}` : undefined,
    interrupted && r.serverSent?.length ? `daemon sessions sent ${r.serverSent.map(MB).join(' + ')} MB` : undefined,
    r.resumed?.length > 1 ? `${r.resumed.length} RESUMED events` : undefined,
    r.faults?.length ? `fault events: ${[...new Set(r.faults)].join(', ')}` : undefined,
    r.leftOver ? `left in the destination: ${r.leftOver.join(', ')}` : undefined,
    r.foreignCpu > 0.1 * r.wall * cpus().length ? `noisy: other processes used ${r.foreignCpu.toFixed(0)} CPU s` : undefined,
    r.ok ? undefined : r.error,
  ].filter(Boolean).join('; ');
  return [
    r.tool, r.kill, r.ok ? 'verified' : 'FAILED', S(r.wall), interrupted ? MB(r.onDiskAfterKill ?? r.onDiskAtKill) : '-',
    interrupted ? MB(r.wireAtRestart) : '-', r.bytesKept !== undefined ? MB(r.bytesKept) : '-', r.upS !== undefined ? S(r.upS) : '-',
    interrupted ? S(r.resumeDiskS) : '-', interrupted ? S(r.resumeWireS) : '-',
    MB(r.wire), MB(r.wire - r.size), interrupted && base ? MB(r.wire - base.wire) : '-', notes,
  ];
}

export function restartReport(records, { opts, size, foreignCpu }) {
  const baselines = new Map(records.filter((r) => r.onDiskAtKill === undefined && r.ok).map((r) => [`${r.family}:${r.rep}`, r]));
  const rows = records.map((r) => cells(r, baselines));
  const head = [
    `Restart after a kill at ${opts.killAt * 100} %: one ${opts.bigMib} MiB random file (${MB(size)} MB) over loopback (a private network namespace), ${opts.reps} rep(s), ${new Date().toISOString()}`,
    `Ferry: parallelism 4, verify_checksum, transfer.flushMiB ${opts.flushMib ?? '64 (default)'}; control tasks.retryInitialMs ${opts.retryMs}, tickMs 100.`,
    'rsync: `rsync -a --partial rsync://…/big.bin DST` (daemon, default delta mode), run again at once after the kill.',
    'GridFTP: `globus-url-copy -fast -p 4 -rst -rst-retries 10 -rst-interval 1 ftp://…/big.bin file:///DST`; server killed and started again.',
    'MB = 10^6 bytes. "wire" = bytes sent on the namespace\'s loopback during the whole run (data, headers, ACKs, control traffic);',
    '"wire − baseline" subtracts the same tool\'s uninterrupted run, so it is what the interruption cost on the wire.',
    '"restart→disk grows" = from the restart to the first 20 ms poll that sees more bytes allocated in the destination directory;',
    '"restart→wire +1 MiB" = to the first poll that sees 1 MiB more sent on the loopback. "on disk at kill" = allocated bytes',
    'in the destination directory once the killed process is gone; "sent before restart" = wire bytes up to the restart;',
    '"restart→agent up" = until the new Ferry agent logs "connected to control".',
    `other processes used ${foreignCpu.toFixed(0)} CPU s during the run (2-core machine: times are noisy; bytes are the main figure).`,
  ];
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (i === COLUMNS.length - 1 ? 0 : r[i].length))));
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? c : i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const text = [...head, '', line(COLUMNS), ...rows.map(line)].join('\n');
  const md = [...head.map((l) => `${l}  `), '', `| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map((_, i) => (i < 3 || i === COLUMNS.length - 1 ? '---' : '--:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
  return { text, md };
}
