import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/cli/api-client.js';
import { runFerry, startFerry, type FerryProcess, type LaunchOptions } from './process.js';

/** A temp directory removed by `cleanup()`. */
export function tempDir(prefix = 'ferry-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface ControlHandle {
  proc: FerryProcess;
  url: string;
  dataDir: string;
  caFile: string;
  caPem: string;
  /** Create an identity, issue it a token, return a client for it. */
  user(username: string): Promise<{ token: string; client: ApiClient; identityId: string }>;
  stop(): Promise<void>;
}

export async function startControl(dataDir: string, extraArgs: string[] = []): Promise<ControlHandle> {
  const proc = startFerry(['control', 'run', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs]);
  const m = await proc.waitForStdout(/listening on (https:\/\/\S+)\n/);
  const url = m[1]!;
  const caFile = join(dataDir, 'pki', 'ca.crt');
  const caPem = readFileSync(caFile, 'utf8');
  const clients: ApiClient[] = [];
  return {
    proc, url, dataDir, caFile, caPem,
    async user(username) {
      const created = await runFerry(['control', 'identity', 'create', '--data-dir', dataDir, '--username', username]);
      if (created.code !== 0) throw new Error(`identity create failed: ${created.stderr}`);
      const identityId = (JSON.parse(created.stdout) as { id: string }).id;
      const issued = await runFerry(['control', 'token', 'issue', '--data-dir', dataDir, '--username', username]);
      if (issued.code !== 0) throw new Error(`token issue failed: ${issued.stderr}`);
      const token = issued.stdout.trim();
      const client = new ApiClient({ url, token, ca: caPem });
      clients.push(client);
      return { token, client, identityId };
    },
    async stop() {
      clients.forEach((c) => c.close());
      await proc.stop();
    },
  };
}

export interface AgentHandle {
  proc: FerryProcess;
  endpointId: string;
  dataDir: string;
  start(): Promise<FerryProcess>;
  stop(): Promise<void>;
}

/** Create an endpoint through the API, set up an agent for it with the CLI, and run it. */
export async function startAgent(client: ApiClient, dataDir: string, roots: string[], displayName = 'test endpoint', configPatch: Record<string, unknown> = {}, launch: LaunchOptions = {}): Promise<AgentHandle> {
  const created = await client.endpointCreate({ display_name: displayName, is_globus_connect: true });
  const setup = await runFerry(['agent', 'setup', '--setup-key', created.globus_connect_setup_key!, '--data-dir', dataDir, ...roots.flatMap((r) => ['--root', r])]);
  if (setup.code !== 0) throw new Error(`agent setup failed: ${setup.stderr}`);
  if (Object.keys(configPatch).length > 0) {
    // Top-level keys replace the written ones (objects are merged one level deep).
    const file = join(dataDir, 'agent.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(configPatch)) {
      const cur = cfg[k];
      cfg[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? { ...(cur as object), ...(v as object) } : v;
    }
    writeFileSync(file, JSON.stringify(cfg, null, 2));
  }
  const handle: AgentHandle = {
    proc: undefined as unknown as FerryProcess,
    endpointId: created.id,
    dataDir,
    async start() {
      handle.proc = startFerry(['agent', 'run', '--data-dir', dataDir], {}, launch);
      await handle.proc.waitForLog(/"msg":"connected to control"/);
      return handle.proc;
    },
    async stop() {
      await handle.proc?.stop();
    },
  };
  await handle.start();
  return handle;
}

/** Control, one user and two agents exporting `srcRoot` and `dstRoot` read-write: what a transfer test starts from. */
export interface TransferPair {
  control: ControlHandle;
  client: ApiClient;
  token: string;
  src: AgentHandle;
  dst: AgentHandle;
  /** Stops the agents, then control. */
  stop(): Promise<void>;
}

export async function startTransferPair(baseDir: string, username: string, srcRoot: string, dstRoot: string, launch: LaunchOptions = {}, dst: { launch?: LaunchOptions; config?: Record<string, unknown> } = {}): Promise<TransferPair> {
  const control = await startControl(join(baseDir, 'control'));
  const started: AgentHandle[] = [];
  const stop = async (): Promise<void> => {
    for (const a of started) await a.stop();
    await control.stop();
  };
  try {
    const { client, token } = await control.user(username);
    started.push(await startAgent(client, join(baseDir, 'agent-src'), [`${srcRoot}:rw`], 'source endpoint', {}, launch));
    started.push(await startAgent(client, join(baseDir, 'agent-dst'), [`${dstRoot}:rw`], 'destination endpoint', dst.config ?? {}, dst.launch ?? launch));
    return { control, client, token, src: started[0]!, dst: started[1]!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
