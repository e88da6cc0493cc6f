import { Option, type Command } from 'commander';
import { withClient } from '../client-config.js';
import { EXIT } from '../exit-codes.js';
import { formatJson, formatOption, formatResult, type OutputFormat } from '../output.js';
import {
  addPrincipalOptions, checkPrincipal, defaultSharingDeps, ENDPOINT_ROLES, EXAMPLE_GROUP_ID, EXAMPLE_RULE_ID, EXAMPLE_SHARE_ID,
  resolvePrincipal, uuidArg, type PrincipalOptions, type SharingCommandDeps,
} from '../sharing-args.js';
import { formatRoleList, identityPrincipals, roleCreatedNote } from '../sharing-output.js';
import type { RolePrincipalType } from '../api-client.js';

/** `ferry role add | list | rm`: roles on a guest collection (globus-api.md §1.5, §3). */

const ABOUT = `
A role lets a person or a group help run a guest collection you own (roles exist on guest
collections only; \`ferry share list\` shows yours):
  administrator     everything the owner may do: manage access rules and roles; rw on all of it
  access_manager    manage the collection's access rules (\`ferry acl\`); rw on all of it
  activity_manager  kept for Globus clients (there: see and cancel the tasks using it);
  activity_monitor  Ferry stores these two but they grant nothing yet
Only the owner and administrators may add or remove roles.`;

const endpointIdArg = () => uuidArg('ENDPOINT_ID', 'the guest collection\'s ID, from `ferry share list`', 'a guest collection ID');

interface RoleAddOptions extends PrincipalOptions {
  role: string;
  format: OutputFormat;
}

export function registerRoleCommands(program: Command, deps: SharingCommandDeps = defaultSharingDeps): void {
  const { io } = deps;
  const role = program.command('role')
    .description('let people or groups help manage a guest collection (roles)')
    .addHelpText('after', `${ABOUT}\n\nSee \`ferry role add --help\`.\n`);

  const add = role.command('add')
    .description('give a person or a group a role on a guest collection (prints the role ID)')
    .addArgument(endpointIdArg());
  addPrincipalOptions(add, false)
    .addOption(new Option('--role <ROLE>', 'what they may do (see below)').choices(ENDPOINT_ROLES).makeOptionMandatory())
    .addOption(formatOption())
    .addHelpText('after', `${ABOUT}

Give exactly one of --identity and --group. A username is looked up through Ferry Auth,
which needs \`ferry login\`; an identity UUID works without. The role's ID goes to stdout
(the rest to stderr), so scripts can capture it.

Examples:
  $ ferry role add ${EXAMPLE_SHARE_ID} --identity alice@example.org --role access_manager
  $ ferry role add ${EXAMPLE_SHARE_ID} --group ${EXAMPLE_GROUP_ID} --role activity_monitor
`)
    .action(async (endpointId: string, opts: RoleAddOptions, self: Command) => {
      const choice = checkPrincipal(opts, false);
      if (typeof choice === 'string') return self.error(`error: ${choice}`, { exitCode: EXIT.usage, code: 'ferry.invalidArgument' });
      const principal = await resolvePrincipal(choice, deps.identities);
      const doc = await withClient(deps, (c) => c.roleCreate(endpointId, {
        principal_type: principal.principal_type as RolePrincipalType,
        principal: principal.principal,
        role: opts.role,
      }));
      if (opts.format === 'json') {
        io.out(formatJson(doc));
        return;
      }
      io.out(`${doc.id}\n`);
      io.err(roleCreatedNote(doc, endpointId, 'value' in choice ? choice.value : principal.principal));
    });

  role.command('list')
    .description('list the roles on a guest collection')
    .addArgument(endpointIdArg())
    .addOption(formatOption())
    .addHelpText('after', `
Columns: role ID, principal type, principal (the username of an identity when you are signed
in with \`ferry login\`, else its UUID), role.

Example:
  $ ferry role list ${EXAMPLE_SHARE_ID}
`)
    .action(async (endpointId: string, opts: { format: OutputFormat }) => {
      const list = await withClient(deps, (c) => c.roleList(endpointId));
      if (opts.format === 'json') {
        io.out(formatJson(list));
        return;
      }
      io.out(formatRoleList(list, await deps.identities.usernamesOf(identityPrincipals(list.DATA))));
    });

  role.command('rm')
    .description('take a role away')
    .addArgument(endpointIdArg())
    .addArgument(uuidArg('ROLE_ID', 'the role\'s ID, from `ferry role list`', 'a role ID', { example: EXAMPLE_RULE_ID }))
    .addOption(formatOption())
    .addHelpText('after', `\nExample:\n  $ ferry role rm ${EXAMPLE_SHARE_ID} ${EXAMPLE_RULE_ID}\n`)
    .action(async (endpointId: string, roleId: string, opts: { format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.roleDelete(endpointId, roleId));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });
}
