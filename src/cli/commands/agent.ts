import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { FerryError } from '../../common/errors.js';
import { ferryHome } from '../client-config.js';

// The agent's modules (ws, forge, fs policy) load only when an agent command runs.
const agentModule = () => import('../../agent/index.js');

function defaultDataDir(): string {
  return join(ferryHome(), 'agent');
}

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('set up and run the endpoint agent on a storage host');

  agent.command('setup')
    .description('register this host as an agent of an endpoint, using the setup key from `ferry endpoint create`')
    .option('--setup-key <key>', 'one-time setup key (carries control\'s URL and CA fingerprint); or set FERRY_SETUP_KEY, which keeps it out of `ps`')
    .option('--data-dir <dir>', 'where to keep the agent config and credentials (default $FERRY_HOME/agent)')
    .option('--root <path[:rw][:share]>', 'a directory to export; repeat for several. The first is the default (/~/). Read-only unless :rw', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--force', 'replace an existing setup in the data directory')
    .addHelpText('after', '\nExample:\n  ferry agent setup --setup-key ferry1_... --data-dir /var/lib/ferry/agent --root /data/projects:rw --root /data/archive\n\nWithout --root, your home directory is exported writable.\n')
    .action(async (opts: { setupKey?: string; dataDir?: string; root: string[]; force?: boolean }) => {
      const setupKey = opts.setupKey ?? process.env['FERRY_SETUP_KEY'];
      if (!setupKey) throw new FerryError('Config.Invalid', 'give the setup key with --setup-key KEY or the FERRY_SETUP_KEY environment variable');
      const { agentConfigPath, parseRootSpec, setupAgent } = await agentModule();
      const dataDir = opts.dataDir ?? defaultDataDir();
      const roots = opts.root.length > 0 ? opts.root.map(parseRootSpec) : [{ path: homedir(), writable: true, sharing: false }];
      const config = await setupAgent({ setupKey, dataDir, roots, force: opts.force === true });
      process.stdout.write(
        `Agent registered: node ${config.nodeId} of endpoint ${config.endpointId}\n` +
        `Config written to ${agentConfigPath(dataDir)}\n` +
        `Start it with: ferry agent run --data-dir ${dataDir}\n`,
      );
    });

  agent.command('run')
    .description('run the agent: connect to control (mutual TLS), serve file operations inside the configured roots')
    .option('--data-dir <dir>', 'agent data directory made by `ferry agent setup` (default $FERRY_HOME/agent)')
    .option('--config <file>', 'agent config file (default <data-dir>/agent.json)')
    .action(async (opts: { dataDir?: string; config?: string }) => {
      const { AgentDaemon, agentConfigPath } = await agentModule();
      const { runUntilSignalled } = await import('../daemon-runner.js');
      const configFile = opts.config ?? agentConfigPath(opts.dataDir ?? defaultDataDir());
      const daemon = new AgentDaemon({ configFile });
      const log = daemon.logger;
      await daemon.open();
      process.stdout.write(`Ferry agent for endpoint ${daemon.config.endpointId} started (control ${daemon.config.controlUrl})\n`);
      await runUntilSignalled([daemon], log, { onHup: () => { daemon.reload(); } });
    });
}
