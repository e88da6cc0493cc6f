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

/** The targets, each judged on same-run medians. */
export function judge(rows, { linkMBps, rssLimitMb, maxAgentRssMb }) {
  const get = (c, t) => rows.find((r) => r.case === c && r.tool === t);
  const out = [];
  // The targets are judged on Ferry's default (durable); the same ratios for Ferry without
  // fsync (like the peers) follow, marked as such, when that row was run.
  for (const [ferryId, tag] of [['ferry', ''], ['ferry-nofsync', ' [Ferry without fsync, like the peers: for comparison]'],
    ['ferry-lean', ' [Ferry without fsync or verify re-read: for comparison]']]) {
    const ratio = (c, t, min, what, denom, untagged = false) => {
      const f = get(c, ferryId);
      const p = denom !== undefined ? { rate: denom } : get(c, t);
      if (!f || !p) return;
      const x = f.rate / p.rate;
      out.push({ case: c, what: what + (untagged ? '' : tag), ratio: x, min, pass: Number.isFinite(x) && x >= min });
    };
    ratio('a', 'rsync-ssh', 1.5, 'Ferry MB/s ÷ rsync over ssh');
    ratio('a', 'tls', 0.7, 'Ferry MB/s ÷ Node TLS ceiling');
    ratio('b', 'rsyncd', 1.0, 'Ferry files/s ÷ rsync daemon');
    ratio('b', 'gridftp-cc4', 2.0, 'Ferry files/s ÷ GridFTP -cc 4 -pp');
    ratio('c', 'gridftp-p8', 1.0, 'Ferry MB/s ÷ GridFTP -p 8');
    if (get('c', ferryId)) ratio('c', null, 0.9, `Ferry MB/s ÷ link (1 Gbit/s = ${fmt(linkMBps)} MB/s)`, linkMBps);
    const iperf = get('c', 'iperf-P8');
    if (iperf) ratio('c', null, 0.9, `Ferry MB/s ÷ link goodput measured by iperf3 -P 8 (${fmt(iperf.rate)} MB/s)`, iperf.rate);
    // Cubic as the hosts' default (issue 13's targets for it).
    ratio('d', 'gridftp-p8', 2.0, 'Ferry MB/s ÷ GridFTP -p 8 (cubic)');
    // Mixed tree: the targets are Ferry's default against rsync over ssh, and Ferry with the
    // peers' guarantees (ferry-lean) against the rsync daemon; the other pairs are shown without
    // a verdict.
    if (ferryId === 'ferry') ratio('e', 'rsync-ssh', 1.5, 'Ferry MB/s ÷ rsync over ssh (mixed tree, cold caches)');
    else ratio('e', 'rsync-ssh', undefined, 'Ferry MB/s ÷ rsync over ssh (mixed tree)');
    if (ferryId === 'ferry-lean') ratio('e', 'rsyncd', 1.0, 'Ferry with the peers\' guarantees (no fsync, no verify) MB/s ÷ rsync daemon (mixed tree, cold caches)', undefined, true);
    else ratio('e', 'rsyncd', undefined, 'Ferry MB/s ÷ rsync daemon (mixed tree)');
    ratio('e', 'gridftp-cc4p4', undefined, 'Ferry MB/s ÷ GridFTP -cc 4 -p 4 (mixed tree)');
    const bbr = get('d', 'iperf-P8-bbr');
    if (bbr) ratio('d', null, 0.9, `Ferry MB/s ÷ iperf3 -P 8 -C bbr goodput (${fmt(bbr.rate)} MB/s)`, bbr.rate);
  }
  // Agents pinned to cubic (no bbr): spare streams on loss, shown without a verdict.
  const cubic = get('d', 'ferry-cubic');
  const p8 = get('d', 'gridftp-p8');
  if (cubic && p8) out.push({ case: 'd', what: 'Ferry with its agents pinned to cubic MB/s ÷ GridFTP -p 8 (cubic)', ratio: cubic.rate / p8.rate, min: undefined });
  // encrypt_data false (issue 13): against the peers that move clear text too.
  const plainRatio = (c, t, min, what) => {
    const f = get(c, 'ferry-lean-plain');
    const p = get(c, t);
    if (!f || !p || f.pending) return;
    const x = f.rate / p.rate;
    out.push({ case: c, what, ratio: x, min, pass: Number.isFinite(x) && x >= min });
  };
  plainRatio('a', 'gridftp-p4', 0.8, 'Ferry with the peers\' guarantees and encrypt_data false MB/s ÷ GridFTP -p 4');
  plainRatio('e', 'rsyncd', 1.0, 'Ferry with the peers\' guarantees and encrypt_data false MB/s ÷ rsync daemon (mixed tree, cold caches)');
  if (get('e', 'ferry-lean-plain')?.pending) {
    out.push({ case: 'e', what: 'Ferry with the peers\' guarantees and encrypt_data false MB/s ÷ rsync daemon (target ≥ 1)', pending: get('e', 'ferry-lean-plain').label.split('pending: ')[1] });
  }
  if (Number.isFinite(maxAgentRssMb)) {
    out.push({ case: 'all', what: `peak agent RSS (MB) ≤ ${rssLimitMb}`, value: maxAgentRssMb, pass: maxAgentRssMb <= rssLimitMb });
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
