import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { AgentConfig, AgentDaemon, agentConfigPath, setupAgent } from '../../agent/index.js';
import { writePrivateFile } from '../../pki/index.js';
import { loadConfigFile, parseConfig } from '../../common/config-file.js';
import { FerryError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { PRIVATE_FILE_MODE, tightenMode } from '../../common/private-files.js';
import { pino } from 'pino';
import { ControlConfig, ControlService, createIdentity, issueToken } from '../../control/index.js';
import { ApiClient } from '../api-client.js';
import { clientConfigPath, ferryHome, writeClientConfig } from '../client-config.js';
import { runUntilSignalled } from '../daemon-runner.js';

/** Quickstart tokens last 30 days; re-running quickstart issues a fresh one when needed. */
const QUICKSTART_TOKEN_TTL_SECONDS = 30 * 86_400;

export interface QuickstartOptions { port: string; root?: string }

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? 'user';
  }
}

/**
 * `ferry quickstart`: control, an identity and token for the current user, a personal endpoint
 * rooted at the home directory and its agent, all under $FERRY_HOME, in this one process.
 * Re-running reuses everything already there.
 */
export async function quickstart(opts: QuickstartOptions): Promise<void> {
  const home = ferryHome();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'logs'), { recursive: true, mode: 0o700 });
  if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) throw new FerryError('Config.Invalid', '--port must be a TCP port number');
  const logFile = join(home, 'logs', 'ferry.log');
  // Logs name users, paths and tasks: owner-only, like the state databases.
  const log = createLogger({ name: 'ferry-quickstart', destination: pino.destination({ dest: logFile, mkdir: true, sync: false, mode: PRIVATE_FILE_MODE }) });
  tightenMode(logFile);

  const controlDir = join(home, 'control');
  const config = parseConfig({ version: 1, dataDir: controlDir, listen: { host: '127.0.0.1', port: Number(opts.port) } }, ControlConfig, 'quickstart');
  const control = new ControlService(config, log.child({ service: 'control' }));
  try {
    await control.open();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new FerryError('ServiceUnavailable', `port ${opts.port} is in use: is another \`ferry quickstart\` or control running? Use --port to pick another`);
    }
    throw err;
  }

  const username = `${currentUser()}@localhost`;
  try {
    createIdentity(controlDir, { username, name: currentUser() });
  } catch (err) {
    if (!(err instanceof FerryError && err.code === 'ClientError.Conflict')) throw err;
  }
  const { token } = issueToken(controlDir, username, QUICKSTART_TOKEN_TTL_SECONDS);
  writeClientConfig(home, { version: 1, url: control.url, token, caFile: control.paths.caCert });

  const agentDir = join(home, 'agent');
  let endpointId: string;
  if (existsSync(agentConfigPath(agentDir))) {
    const existing = loadConfigFile(agentConfigPath(agentDir), AgentConfig);
    endpointId = existing.endpointId;
    // Started on another --port than last time: point the agent at where control is now.
    if (existing.controlUrl !== control.url) {
      writePrivateFile(agentConfigPath(agentDir), `${JSON.stringify({ ...existing, controlUrl: control.url }, null, 2)}\n`);
    }
  } else {
    const client = new ApiClient({ url: control.url, token, ca: readFileSync(control.paths.caCert, 'utf8') });
    try {
      const created = await client.endpointCreate({ display_name: `${currentUser()} on ${hostname()}`, is_globus_connect: true });
      if (!created.globus_connect_setup_key) throw new FerryError('InternalError', 'control returned no setup key');
      const root = opts.root ?? homedir();
      await setupAgent({ setupKey: created.globus_connect_setup_key, dataDir: agentDir, roots: [{ path: root, writable: true, sharing: false }] });
      endpointId = created.id;
    } finally {
      client.close();
    }
  }

  const agent = new AgentDaemon({ configFile: agentConfigPath(agentDir), log: log.child({ service: 'agent' }) });
  await agent.open();
  await agent.whenConnected();

  process.stdout.write([
    'Ferry is running: control and a personal endpoint on this machine.',
    '',
    `  Control:        ${control.url}`,
    `  Your endpoint:  ${endpointId}  (its /~/ is ${agent.config.roots[0]?.path})`,
    `  Client config:  ${clientConfigPath(home)}`,
    `  Logs:           ${logFile}`,
    '',
    'Try, in another terminal:',
    `  ferry ls ${endpointId}:/~/`,
    `  ferry mkdir ${endpointId}:/~/ferry-test`,
    `  ferry endpoint show ${endpointId}`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'));
  await runUntilSignalled([control, agent], log, { farewell: 'Ferry stopped.\n' });
}

