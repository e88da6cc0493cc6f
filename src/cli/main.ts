#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isFerryError } from '../common/errors.js';
import { registerControlCommands } from './commands/control.js';
import { registerAgentCommands } from './commands/agent.js';
import { registerEndpointCommands } from './commands/endpoint.js';
import { registerFileCommands } from './commands/files.js';
import { registerQuickstart } from './commands/quickstart-command.js';
import { registerTransferCommand } from './commands/transfer.js';
import { registerRmCommand } from './commands/rm.js';
import { registerTaskCommands } from './commands/task.js';
import { registerLoginCommands } from './commands/login.js';
import { registerGroupCommands } from './commands/group.js';
import { registerShareCommands } from './commands/share.js';
import { registerAclCommands } from './commands/acl.js';
import { registerRoleCommands } from './commands/role.js';
import { exitCodeFor, EXIT } from './exit-codes.js';
import { RemoteError } from './api-client.js';
import { FERRY_VERSION } from '../common/version.js';

const program = new Command();
program
  .name('ferry')
  .description(
    'Ferry moves research data between storage hosts, Globus-style.\n\n' +
    'Start here:   ferry quickstart          (control + a personal endpoint on this machine)\n' +
    'Then try:     ferry ls <ENDPOINT_ID>:/~/\n\n' +
    'Client commands find control through FERRY_URL, FERRY_TOKEN and FERRY_CA, or the\n' +
    'client config that quickstart writes ($FERRY_HOME/client.json, default ~/.ferry).',
  )
  .version(FERRY_VERSION)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerQuickstart(program);
registerFileCommands(program);
registerTransferCommand(program);
registerRmCommand(program);
registerTaskCommands(program);
registerEndpointCommands(program);
registerAgentCommands(program);
registerControlCommands(program);
registerLoginCommands(program);
registerGroupCommands(program);
registerShareCommands(program);
registerAclCommands(program);
registerRoleCommands(program);
// Client commands refresh the token from `ferry login` when it is about to expire.
const NO_REFRESH = new Set(['login', 'logout', 'control', 'agent', 'quickstart']);
program.hook('preAction', async (_program, action) => {
  let top = action;
  while (top.parent && top.parent !== program) top = top.parent;
  if (!NO_REFRESH.has(top.name())) await (await import('./commands/login.js')).refreshIfNeeded();
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version exit 0; every other parse problem is a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
  } else if (isFerryError(err)) {
    // Remote errors keep control's exact Globus code, which may be outside our catalog.
    const code = err instanceof RemoteError ? err.remoteCode : err.code;
    const req = err instanceof RemoteError && err.requestId ? ` (request ${err.requestId})` : '';
    process.stderr.write(`ferry: error [${code}]: ${err.message}${req}\n`);
    process.exitCode = exitCodeFor(err);
  } else {
    process.stderr.write(`ferry: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
