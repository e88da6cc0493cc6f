// Medians, ratios, targets and the table (plain text for the terminal, Markdown for RESULTS.md).

export function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function maxOf(xs) {
  const v = xs.filter(Number.isFinite);
  return v.length ? Math.max(...v) : NaN;
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const fmtInt = (x) => (Number.isFinite(x) ? String(Math.round(x)) : '–');

/** Per (case, tool): medians over the successful reps, min-max of the rate, failures. */
export function summarize(records, cases) {
  const rows = [];
  for (const c of cases) {
    for (const tool of c.tools) {
      const recs = records.filter((r) => r.case === c.id && r.tool === tool.id);
      if (tool.pending) {
        rows.push({ case: c.id, tool: tool.id, label: `${tool.label} — pending: ${tool.pending}`, n: 0, ok: 0, pending: true,
          MBps: NaN, filesPerS: NaN, rate: NaN, rateMin: NaN, rateMax: NaN, wall: NaN, cpu: NaN, rssMb: NaN, controlCpu: NaN, errors: [] });
        continue;
      }
      if (recs.length === 0) continue;
      const ok = recs.filter((r) => r.ok);
      const rate = ok.map((r) => (c.metric === 'files' ? r.filesPerS : r.MBps));
      rows.push({
        case: c.id, tool: tool.id, label: tool.label, n: recs.length, ok: ok.length,
        MBps: median(ok.map((r) => r.MBps)), filesPerS: median(ok.map((r) => r.filesPerS)),
        rate: median(rate), rateMin: Math.min(...rate), rateMax: Math.max(...rate),
        wall: median(ok.map((r) => r.wall)), cpu: median(ok.map((r) => r.cpu)),
        rssMb: maxOf(ok.map((r) => r.rssMb)), controlCpu: median(ok.map((r) => r.cpuBy?.control)),
        errors: recs.filter((r) => !r.ok).map((r) => r.error),
      });
    }
  }
  // Ferry divided by each tool, on the case's own metric.
  for (const row of rows) {
    const ferry = rows.find((r) => r.case === row.case && r.tool === 'ferry');
    row.ferryRatio = ferry && row.tool !== 'ferry' ? ferry.rate / row.rate : NaN;
  }
  return rows;
}

/**
 * Issue 13's targets (its table), each a Ferry row against a peer's row: [case, Ferry row,
 * peer row, minimum ratio, what the Ferry row is]. The peers' guarantees are no fsync and no
 * verify re-read; the rsync daemon and GridFTP move clear text, so Ferry's clear-text row
 * (encrypt_data false) is the one set against them where the issue says so.
 */
export const TARGETS = [
  ['a', 'ferry', 'rsync-ssh', 1.5, 'Ferry default'],
  ['a', 'ferry-lean', 'tls', 0.8, 'Ferry with the peers\' guarantees, encrypted'],
  ['a', 'ferry-lean', 'rsync-ssh', 2.0, 'Ferry with the peers\' guarantees, encrypted'],
  ['a', 'ferry-lean-plain', 'gridftp-p4', 0.8, 'Ferry with the peers\' guarantees, encrypt_data false'],
  ['b', 'ferry', 'rsyncd-fsync', 2.0, 'Ferry default'],
  ['b', 'ferry-lean', 'rsyncd', 1.2, 'Ferry with the peers\' guarantees, encrypted'],
  ['b', 'ferry-lean-plain', 'rsyncd', 1.2, 'Ferry with the peers\' guarantees, encrypt_data false'],
  ['c', 'ferry', 'gridftp-p8', 1.0, 'Ferry default'],
  ['c', 'ferry', 'iperf-P8', 0.95, 'Ferry default'],
  ['c', 'ferry-nofsync', 'gridftp-p8', 1.0, 'Ferry without fsync'],
  ['c', 'ferry-nofsync', 'iperf-P8', 0.95, 'Ferry without fsync'],
  ['d', 'ferry', 'gridftp-p8', 2.0, 'Ferry default'],
  ['d', 'ferry', 'iperf-P8-bbr', 0.9, 'Ferry default'],
  ['e', 'ferry', 'rsync-ssh', 1.5, 'Ferry default'],
  ['e', 'ferry-lean-plain', 'rsyncd', 1.0, 'Ferry with the peers\' guarantees, encrypt_data false'],
];

/** Pairs shown beside the targets, without a verdict. */
const COMPARISONS = [
  ['a', 'ferry-nofsync', 'rsync-ssh', 'Ferry without fsync'],
  ['b', 'ferry', 'gridftp-cc4', 'Ferry default'],
  ['b', 'ferry-nofsync', 'rsyncd', 'Ferry without fsync'],
  ['d', 'ferry-cubic', 'gridftp-p8', 'Ferry with its agents pinned to cubic'],
  ['e', 'ferry-lean', 'rsyncd', 'Ferry with the peers\' guarantees, encrypted'],
  ['e', 'ferry-lean-plain', 'gridftp-cc4p4', 'Ferry with the peers\' guarantees, encrypt_data false'],
];

/** The summarized row of tool T in case C that has a result (none for a pending or failed one). */
export function rowOf(rows, c, t) {
  return rows.find((r) => r.case === c && r.tool === t && !r.pending && r.ok > 0);
}

/** The targets and the comparisons, each judged on same-run medians. */
export function judge(rows, { rssLimitMb, maxAgentRssMb }) {
  const get = (c, t) => rowOf(rows, c, t);
  const out = [];
  const pair = (c, ferryId, peerId, min, who) => {
    const f = get(c, ferryId);
    const p = get(c, peerId);
    if (!f || !p) return;
    const x = f.rate / p.rate;
    const what = `${who} ÷ ${p.label.split(' (')[0]} (${fmt(p.rate, p.rate >= 1000 ? 0 : 1)})`;
    out.push(min === undefined ? { case: c, what, ratio: x } : { case: c, what, ratio: x, min, pass: Number.isFinite(x) && x >= min });
  };
  for (const [c, f, p, min, who] of TARGETS) pair(c, f, p, min, who);
  for (const [c, f, p, who] of COMPARISONS) pair(c, f, p, undefined, who);
  if (Number.isFinite(maxAgentRssMb)) {
    out.push({ case: 'all', what: `peak agent RSS (MB) < ${rssLimitMb}`, value: maxAgentRssMb, pass: maxAgentRssMb < rssLimitMb });
  }
  return out;
}

const HEAD = ['case', 'tool', 'MB/s', 'files/s', 'range', 'wall s', 'CPU s', 'peak RSS MB', 'Ferry ÷ tool'];

function cells(row, cases) {
  const c = cases.find((x) => x.id === row.case);
  const range = row.ok > 1 ? `${fmt(row.rateMin, c.metric === 'files' ? 0 : 1)}–${fmt(row.rateMax, c.metric === 'files' ? 0 : 1)}` : '';
  const failed = row.ok < row.n ? ` (${row.n - row.ok}/${row.n} failed)` : '';
  return [
    row.case, row.label + failed, fmt(row.MBps), c.metric === 'files' || c.countsFiles ? fmtInt(row.filesPerS) : '', range, fmt(row.wall, 2),
    fmt(row.cpu, 2), fmt(row.rssMb, 0), fmt(row.ferryRatio, 2),
  ];
}

export function textTable(rows, cases) {
  const body = rows.map((r) => cells(r, cases));
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cs) => cs.map((x, i) => (i <= 1 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ');
  return [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(rows, cases) {
  const body = rows.map((r) => cells(r, cases).map((x) => x.replace(/\|/g, '\\|')));
  return [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, i) => (i <= 1 ? '---' : '---:')).join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`)].join('\n');
}

export function targetLines(verdicts) {
  return verdicts.map((v) => (v.pending ? `(${v.case}) ${v.what}: pending (${v.pending})`
    : v.ratio !== undefined && v.min === undefined ? `(${v.case}) ${v.what} = ${fmt(v.ratio, 2)} (no target)`
    : v.ratio !== undefined
    ? `(${v.case}) ${v.what} = ${fmt(v.ratio, 2)} (target ≥ ${v.min}) ${v.pass ? 'PASS' : 'FAIL'}`
    : `(${v.case}) ${v.what}: ${fmt(v.value, 0)} ${v.pass ? 'PASS' : 'FAIL'}`));
}
