// The tools of the restart benchmark (bench/restart.mjs) and how each is interrupted and
// resumed: Ferry (SIGKILL the destination agent, start it again; control retries the task),
// rsync --partial (kill the client, run it again) and GridFTP (SIGKILL the server, start it
// again; globus-url-copy -rst is meant to retry). Everything runs in one private network
// namespace so that its loopback counters see only this benchmark's traffic.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FERRY_BIN } from './ferry.mjs';
import { startGridftp } from './peers.mjs';
import { run, startProc } from './proc.mjs';

const API_CALL = fileURLToPath(new URL('./api-call.mjs', import.meta.url));

/** PID and every descendant of it (read before a kill: a dead parent's children are re-parented). */
export function processTree(pid) {
  const out = [pid];
  let kids = '';
  try { kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim(); } catch { /* gone */ }
  for (const k of kids.split(/\s+/).filter(Boolean)) out.push(...processTree(Number(k)));
  return out;
}

function signalTree(pid, signal) {
  for (const p of processTree(pid)) { try { process.kill(p, signal); } catch { /* gone */ } }
}

const tail = (text, n = 3) => text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');

/**
 * The tools. ENV: {ns, logDir, paths: {src, srcRel, dstRoot}, cluster (Ferry), servers:
 * {rsyncd, gridftp}, size}. Each tool has a family (its uninterrupted baseline is shared),
 * dstDir, and start() -> handle, kill(h), restart(h), finish(h) -> {ok, error, ...}.
 */
export function restartTools(env) {
  const { ns, logDir } = env;
  const dstDir = (id) => join(env.paths.dstRoot, id);
  const ferry = {
    id: 'ferry', family: 'ferry', dstDir: dstDir('ferry'),
    label: 'Ferry, SIGKILL the destination agent, `ferry agent run` again',
    interruption: 'SIGKILL dst agent',
    start() {
      const c = env.cluster;
      const body = {
        source_endpoint: c.agents.src.endpointId, destination_endpoint: c.agents.dst.endpointId, label: 'ferry restart bench',
        DATA: [{ DATA_TYPE: 'transfer_item', source_path: `/~/${env.paths.srcRel}`, destination_path: '/~/ferry/big.bin', recursive: false }],
      };
      const h = { done: run(process.execPath, [API_CALL, 'transfer', JSON.stringify(body)], { ns, env: { ...c.env, FB_TIMEOUT_S: '1800' } }) };
      h.done.then(() => { h.finished = true; });
      return h;
    },
    async kill() {
      const a = env.cluster.agents.dst;
      a.proc.child.kill('SIGKILL');
      await a.proc.exited;
    },
    async restart(h) {
      const c = env.cluster, a = c.agents.dst;
      a.proc = startProc(`${c.name}-agent-dst`, process.execPath, [FERRY_BIN, 'agent', 'run', '--data-dir', a.dir], { logDir, ns });
      a.proc.waitFor(/connected to control/, 120_000).then(() => { h.upAt = Number(process.hrtime.bigint()) / 1e9; }, () => undefined);
    },
    async finish(h) {
      const r = await h.done;
      if (r.code !== 0) return { ok: false, error: `api-call failed: ${tail(r.stderr)}` };
      const doc = JSON.parse(r.stdout);
      const ev = await run(process.execPath, [API_CALL, 'events', doc.task_id], { ns, env: env.cluster.env });
      const events = ev.code === 0 ? JSON.parse(ev.stdout).DATA ?? [] : [];
      const resumed = events.filter((e) => e.code === 'RESUMED').map((e) => { try { return JSON.parse(e.details); } catch { return { raw: e.details }; } });
      const faults = events.filter((e) => e.is_error).map((e) => e.code);
      return {
        ok: doc.status === 'SUCCEEDED', error: doc.status === 'SUCCEEDED' ? undefined : `${doc.status}: ${JSON.stringify(doc.task?.fatal_error ?? doc.task?.nice_status)}`,
        taskId: doc.task_id, resumed, faults, bytesKept: resumed.length ? resumed[resumed.length - 1].bytes_kept : undefined,
      };
    },
  };

  // rsync pulls from the daemon in its default (delta) mode: --whole-file would make the resumed
  // run ignore the partial file, which is the point of --partial.
  const daemonLog = () => { try { return readFileSync(join(logDir, `rsyncd-${env.servers.rsyncd.port}.log`), 'utf8'); } catch { return ''; } };
  const rsyncArgs = (dst) => ['-a', '--partial', `rsync://127.0.0.1:${env.servers.rsyncd.port}/data/src/${env.paths.srcRel}`, join(dst, 'big.bin')];
  const rsync = (id, signal, label) => ({
    id, family: 'rsync', dstDir: dstDir(id), label, interruption: `${signal} client`,
    start() {
      const h = { n: 1, logFrom: daemonLog().length };
      h.proc = startProc(`${id}-client-1`, 'rsync', rsyncArgs(this.dstDir), { logDir, ns });
      h.proc.exited.then(() => { if (h.n === 1) h.finished = true; });
      return h;
    },
    async kill(h) {
      // Every client process (generator and receiver), as a crash of the host or a terminal's ^C would reach.
      signalTree(h.proc.pid, signal);
      h.firstExit = await h.proc.exited;
      h.firstOutput = tail(h.proc.output());
    },
    async restart(h) {
      h.n = 2;
      h.proc = startProc(`${id}-client-2`, 'rsync', rsyncArgs(this.dstDir), { logDir, ns });
    },
    async finish(h) {
      const e = await h.proc.exited;
      // What each daemon session says it sent, in the order they ended (the killed one may end late).
      const serverSent = [...daemonLog().slice(h.logFrom).matchAll(/sent (\d+) bytes\s+received \d+ bytes/g)].map((m) => Number(m[1]));
      return { ok: e.code === 0, error: e.code === 0 ? undefined : `rsync exited ${e.code ?? e.signal}: ${tail(h.proc.output())}`, firstExit: h.firstExit, firstOutput: h.firstOutput, serverSent };
    },
  });

  const gucArgs = (dst) => ['-fast', '-p', '4', '-rst', '-rst-retries', '10', '-rst-interval', '1',
    `ftp://127.0.0.1:${env.servers.gridftp.port}${env.paths.src}`, `file://${join(dst, 'big.bin')}`];
  const gridftp = {
    id: 'gridftp', family: 'gridftp', dstDir: dstDir('gridftp'),
    label: 'GridFTP -fast -p 4 -rst, SIGKILL the server (daemon and session), start it again',
    interruption: 'SIGKILL server',
    start() {
      const h = { n: 1 };
      h.proc = startProc('gridftp-client-1', 'globus-url-copy', gucArgs(this.dstDir), { logDir, ns });
      h.proc.exited.then(() => { if (!h.killed) h.finished = true; });
      return h;
    },
    async kill(h) {
      h.killed = true;
      const srv = env.servers.gridftp;
      signalTree(srv.proc.pid, 'SIGKILL');   // the daemon and its forked session (running as nobody)
      await srv.proc.exited;
    },
    async restart() {
      env.servers.gridftp = await startGridftp({ ns, logDir });
    },
    async finish(h) {
      let e = await h.proc.exited;
      if (e.code === 0 || !h.killed) {
        return { ok: e.code === 0, error: e.code === 0 ? undefined : `globus-url-copy exited ${e.code}: ${tail(h.proc.output())}` };
      }
      // The client gave up despite -rst: run it again, as a user would (it starts the file over).
      const gaveUp = `globus-url-copy -rst gave up (exit ${e.code ?? e.signal}): ${tail(h.proc.output(), 1)}`;
      h.n = 2;
      h.proc = startProc('gridftp-client-2', 'globus-url-copy', gucArgs(this.dstDir), { logDir, ns });
      e = await h.proc.exited;
      return { ok: e.code === 0, error: e.code === 0 ? undefined : `rerun exited ${e.code}: ${tail(h.proc.output())}`, gaveUp, rerun: true };
    },
  };

  return [
    ferry,
    rsync('rsync-kill', 'SIGKILL', 'rsync -a --partial (daemon, delta mode), SIGKILL the client, run it again'),
    rsync('rsync-term', 'SIGTERM', 'rsync -a --partial (daemon, delta mode), SIGTERM the client, run it again'),
    gridftp,
  ];
}
