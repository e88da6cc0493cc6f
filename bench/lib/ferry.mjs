// Ferry as real processes for the benchmark: one control service and two agents (optionally
// each in its own network namespace), started from the built CLI (`node bin/ferry.cjs`), set up
// through the REST API exactly as an administrator would, and driven by transfer tasks.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpu, procMem, resetPeak, run, runOk, startProc } from './proc.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FERRY_BIN = join(REPO, 'bin', 'ferry.cjs');
const API_CALL = fileURLToPath(new URL('./api-call.mjs', import.meta.url));

export function ferryBuilt() {
  return existsSync(join(REPO, 'dist', 'cli', 'main.js')) && existsSync(join(REPO, 'dist', 'cli', 'api-client.js'));
}

/**
 * Start control (listening on CONTROL.host, inside CONTROL.ns when set) and one agent per entry
 * of AGENTS ({key, root, host, ns}): endpoint created over HTTPS, `agent setup` with its setup
 * key, agent.json's dataListen host set to the agent's address, `agent run` (with AGENTNODEARGS,
 * e.g. --cpu-prof, before the script). Optional CONTROLCONFIG is merged into a control config
 * file (e.g. {tasks: {retryInitialMs: 200}}) and AGENTCONFIG into every agent.json (one level
 * deep, e.g. {transfer: {flushMiB: 32}}); without them nothing changes.
 */
export async function startFerryCluster({ name, dir, logDir, control: ctl = {}, agents, agentNodeArgs = [], controlConfig, agentConfig }) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const controlDir = join(dir, 'control');
  const host = ctl.host ?? '127.0.0.1';
  const cluster = { name, agents: {}, control: undefined, env: undefined, ns: ctl.ns };
  try {
    const configArgs = [];
    if (controlConfig) {
      mkdirSync(controlDir, { recursive: true });
      const file = join(dir, 'control.json');
      writeFileSync(file, `${JSON.stringify({ version: 1, dataDir: controlDir, ...controlConfig }, null, 2)}\n`);
      configArgs.push('--config', file);
    }
    cluster.control = startProc(`${name}-control`, process.execPath, [FERRY_BIN, 'control', 'run', ...configArgs, '--data-dir', controlDir, '--listen', `${host}:0`], { logDir, ns: ctl.ns });
    const [, url] = await cluster.control.waitFor(/listening on (https:\/\/\S+)/, 60_000);
    const username = 'bench@x';
    await runOk(process.execPath, [FERRY_BIN, 'control', 'identity', 'create', '--data-dir', controlDir, '--username', username]);
    const token = (await runOk(process.execPath, [FERRY_BIN, 'control', 'token', 'issue', '--data-dir', controlDir, '--username', username])).stdout.trim();
    cluster.env = { FB_URL: url, FB_CA: join(controlDir, 'pki', 'ca.crt'), FB_TOKEN: token };
    for (const a of agents) {
      const ep = await apiCall(cluster, ['endpoint-create', `bench ${a.key}`]);
      const agentDir = join(dir, `agent-${a.key}`);
      await runOk(process.execPath, [FERRY_BIN, 'agent', 'setup', '--setup-key', ep.setup_key, '--data-dir', agentDir, '--root', `${a.root}:rw`], { ns: a.ns });
      const cfgFile = join(agentDir, 'agent.json');
      const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
      for (const [k, v] of Object.entries(agentConfig ?? {})) {
        cfg[k] = v && typeof v === 'object' && !Array.isArray(v) ? { ...(cfg[k] ?? {}), ...v } : v;
      }
      cfg.dataListen = { ...(cfg.dataListen ?? {}), host: a.host ?? '127.0.0.1' };
      writeFileSync(cfgFile, `${JSON.stringify(cfg, null, 2)}\n`);
      const proc = startProc(`${name}-agent-${a.key}`, process.execPath, [...agentNodeArgs, FERRY_BIN, 'agent', 'run', '--data-dir', agentDir], { logDir, ns: a.ns });
      await proc.waitFor(/connected to control/, 60_000);
      cluster.agents[a.key] = { proc, endpointId: ep.id, root: a.root, ns: a.ns, dir: agentDir };
    }
  } catch (err) {
    await stopFerryCluster(cluster);
    throw err;
  }
  return cluster;
}

export async function stopFerryCluster(cluster) {
  for (const a of Object.values(cluster.agents)) await a.proc.stop();
  await cluster.control?.stop();
}

async function apiCall(cluster, args) {
  const r = await run(process.execPath, [API_CALL, ...args], { ns: cluster.ns, env: cluster.env });
  if (r.code !== 0) throw new Error(`api-call ${args[0]} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** The agents' and control's PIDs, for CPU and memory accounting. */
function pids(cluster) {
  return { control: cluster.control.pid, ...Object.fromEntries(Object.entries(cluster.agents).map(([k, a]) => [k, a.proc.pid])) };
}

/**
 * Run one transfer task from agent SRC to agent DST and wait for its end. Wall time runs from
 * the submit to the poll that sees SUCCEEDED; CPU is the growth of every Ferry process's
 * user+sys time (both agents and control); peak RSS is each agent's VmHWM, reset just before.
 */
export async function ferryTransfer(cluster, { src, dst, sourcePath, destinationPath, recursive = false, options = {} }) {
  const p = pids(cluster);
  for (const pid of Object.values(p)) resetPeak(pid);
  const before = Object.fromEntries(Object.entries(p).map(([k, pid]) => [k, procCpu(pid)]));
  const body = {
    source_endpoint: cluster.agents[src].endpointId, destination_endpoint: cluster.agents[dst].endpointId,
    label: 'ferry bench', ...options,
    DATA: [{ DATA_TYPE: 'transfer_item', source_path: sourcePath, destination_path: destinationPath, recursive }],
  };
  const r = await run(process.execPath, [API_CALL, 'transfer', JSON.stringify(body)], { ns: cluster.ns, env: cluster.env });
  const cpuBy = Object.fromEntries(Object.entries(p).map(([k, pid]) => [k, procCpu(pid) - before[k]]));
  const rssBy = Object.fromEntries(Object.entries(p).map(([k, pid]) => [k, procMem(pid, 'VmHWM')]));
  if (r.code !== 0) return { ok: false, error: r.stderr.trim(), cpuBy, rssBy };
  const doc = JSON.parse(r.stdout);
  const agentKeys = Object.keys(cluster.agents);
  return {
    ok: doc.status === 'SUCCEEDED',
    error: doc.status === 'SUCCEEDED' ? undefined : `${doc.status}: ${JSON.stringify(doc.task?.fatal_error ?? doc.task?.nice_status)} ${JSON.stringify((doc.events ?? []).filter((e) => e.is_error).slice(0, 3))}`,
    wall: doc.seconds,
    task: doc.task,
    cpu: Object.values(cpuBy).reduce((a, b) => a + b, 0),
    agentCpu: agentKeys.reduce((s, k) => s + cpuBy[k], 0),
    cpuBy,
    rssMb: Math.max(...agentKeys.map((k) => rssBy[k])),
    rssBy,
  };
}

/**
 * Change every agent's transfer section (agent.json: durable, congestionControl) and reload it
 * with SIGHUP, as an administrator would: later sessions run with it (the agent tells control
 * its new capabilities on the same link). Waits for each agent to log the reload.
 */
export async function setTransferConfig(cluster, patch) {
  for (const a of Object.values(cluster.agents)) {
    const cfgFile = join(a.dir, 'agent.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
    cfg.transfer = { ...(cfg.transfer ?? {}), ...patch };
    writeFileSync(cfgFile, `${JSON.stringify(cfg, null, 2)}\n`);
    const mark = a.proc.received();
    process.kill(a.proc.pid, 'SIGHUP');
    try {
      await a.proc.waitFor(/config reloaded/, 10_000, { after: mark });
    } catch (err) {
      // waitFor's message ends with the agent's last output (a refused config says why there).
      throw new Error(`agent ${a.proc.name} did not reload its config: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
