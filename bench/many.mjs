#!/usr/bin/env node
// Many tasks at once (issue 13's memory targets): two agents on loopback, their RSS when idle,
// then N transfer tasks of F small files each submitted together, their wall time and every
// agent's peak RSS, then the idle RSS again. `node bench/many.mjs --help`; README.md beside this
// file ("Many tasks at once") says what is measured.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countFiles, smallTree } from './lib/data.mjs';
import { ferryBuilt, startFerryCluster, stopFerryCluster } from './lib/ferry.mjs';
import { killOwned, log, procMem, resetPeak, sleep } from './lib/proc.mjs';

const HELP = `usage: node bench/many.mjs [options]   (after npm run build)
  --tasks N         tasks submitted at once (default 50)
  --files N         files per task (default 20)        --kib N   size of each file (default 64)
  --dirs N          directories per task the files are spread over (default 1)
  --settle S        seconds an agent is left alone before its idle RSS is read (default 10)
  --heap-snapshot   after the idle wait, have the destination agent write a heap snapshot (into the current directory)
  --node-args "A B" more node options for the agents (e.g. "--max-semi-space-size=2"), to compare
  --data DIR        data and results (default /tmp/ferry-bench-many)
`;

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '50' }, files: { type: 'string', default: '20' }, kib: { type: 'string', default: '64' }, dirs: { type: 'string', default: '1' },
    settle: { type: 'string', default: '10' }, 'heap-snapshot': { type: 'boolean' }, 'node-args': { type: 'string', default: '' }, data: { type: 'string', default: '/tmp/ferry-bench-many' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const tasks = Number(values.tasks);
const files = Number(values.files);
const kib = Number(values.kib);
const dirs = Number(values.dirs);
const settleMs = Number(values.settle) * 1000;
const data = values.data;

/** Every agent's VmRSS now (MB). */
const rssNow = (cluster) => Object.fromEntries(Object.entries(cluster.agents).map(([k, a]) => [k, Math.round(procMem(a.proc.pid, 'VmRSS'))]));

async function main() {
  if (!ferryBuilt()) throw new Error('Ferry is not built: run `npm run build` first');
  rmSync(join(data, 'dst'), { recursive: true, force: true });
  mkdirSync(join(data, 'dst'), { recursive: true });
  const logDir = join(data, 'logs');
  mkdirSync(logDir, { recursive: true });
  // Kept between runs while the shape is unchanged (smallTree's marker).
  for (let t = 0; t < tasks; t++) smallTree(join(data, 'src', `t${t}`), files, kib, dirs);
  const cluster = await startFerryCluster({ name: 'many', dir: join(data, 'ferry'), logDir, agents: [
    { key: 'src', root: join(data, 'src') }, { key: 'dst', root: join(data, 'dst') }],
    agentNodeArgs: [...values['node-args'].split(' ').filter(Boolean), ...(values['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2'] : [])] });
  const dist = new URL('../dist/cli/api-client.js', import.meta.url);
  const { ApiClient } = await import(fileURLToPath(dist));
  const client = new ApiClient({ url: cluster.env.FB_URL, token: cluster.env.FB_TOKEN, ca: readFileSync(cluster.env.FB_CA, 'utf8') });
  try {
    await sleep(settleMs);
    const idleBefore = rssNow(cluster);
    log(`idle agents after ${values.settle} s: ${JSON.stringify(idleBefore)} MB`);
    for (const a of Object.values(cluster.agents)) resetPeak(a.proc.pid);
    const t0 = performance.now();
    // One client in this process submits and polls all of them: N pollers would load the 2 cores.
    const ids = await Promise.all(Array.from({ length: tasks }, async (_, t) => {
      const { value } = await client.get('/v0.10/submission_id');
      const res = await client.post('/v0.10/transfer', { body: {
        DATA_TYPE: 'transfer', submission_id: value, source_endpoint: cluster.agents.src.endpointId, destination_endpoint: cluster.agents.dst.endpointId,
        label: `many ${t}`, DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/t${t}/`, destination_path: `/~/t${t}/`, recursive: true }],
      } });
      return res.task_id;
    }));
    const status = new Map();
    while (status.size < ids.length) {
      for (const id of ids.filter((i) => !status.has(i))) {
        const task = await client.get(`/v0.10/task/${id}`);
        if (task.status === 'SUCCEEDED' || task.status === 'FAILED') status.set(id, task.status);
      }
      if (status.size < ids.length) await sleep(100);
    }
    const seconds = (performance.now() - t0) / 1000;
    const peak = Object.fromEntries(Object.entries(cluster.agents).map(([k, a]) => [k, Math.round(procMem(a.proc.pid, 'VmHWM'))]));
    const ok = [...status.values()].filter((s) => s === 'SUCCEEDED').length;
    const arrived = countFiles(join(data, 'dst'));
    await sleep(settleMs);
    const idleAfter = rssNow(cluster);
    const result = { date: new Date().toISOString(), tasks, files, kib, nodeArgs: values['node-args'], succeeded: ok, filesArrived: arrived, seconds, peakMb: peak, idleBeforeMb: idleBefore, idleAfterMb: idleAfter };
    if (values['heap-snapshot']) {
      // Writing a snapshot collects garbage first: what RSS falls to then was garbage, not live data.
      process.kill(cluster.agents.dst.proc.pid, 'SIGUSR2');
      await sleep(15_000);
      result.dstAfterSnapshotMb = Math.round(procMem(cluster.agents.dst.proc.pid, 'VmRSS'));
    }
    writeFileSync(join(data, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${tasks} tasks of ${files} x ${kib} KiB at once: ${ok}/${tasks} succeeded, ${arrived} files arrived, ${seconds.toFixed(1)} s\n`
      + `agent peak RSS (MB): ${JSON.stringify(peak)}; idle before: ${JSON.stringify(idleBefore)}; idle ${values.settle} s after: ${JSON.stringify(idleAfter)}`
      + `${result.dstAfterSnapshotMb === undefined ? '' : `; destination after its heap snapshot (a full GC): ${result.dstAfterSnapshotMb}`}\n`);
    if (ok !== tasks || arrived !== tasks * files) process.exitCode = 1;
  } finally {
    client.close();
    await stopFerryCluster(cluster);
  }
}

main().catch((err) => {
  log(`many-tasks bench failed: ${err.message}`);
  killOwned();
  process.exitCode = 1;
});
