import type { Command } from 'commander';
import type { QuickstartOptions } from './quickstart.js';

export function registerQuickstart(program: Command): void {
  program.command('quickstart')
    .description('start control and a personal endpoint for you on this machine (state in $FERRY_HOME, default ~/.ferry)')
    .option('--port <port>', 'port for control on 127.0.0.1', '7750')
    .option('--root <dir>', 'directory to export on first run (default: your home directory)')
    .addHelpText('after', '\nRunning it again reuses the existing state. Ctrl-C stops control and the agent.\n')
    .action(async (opts: QuickstartOptions) => (await import('./quickstart.js')).quickstart(opts));
}
