import { Option, type Command } from 'commander';
import { withClient } from '../client-config.js';
import { EXIT } from '../exit-codes.js';
import { formatJson, formatOption, formatResult, type OutputFormat } from '../output.js';
import {
  ACCESS_PERMISSIONS, addPrincipalOptions, checkPrincipal, defaultSharingDeps, EXAMPLE_GROUP_ID, EXAMPLE_RULE_ID, EXAMPLE_SHARE_ID,
  parseEmail, parseExpiration, parseRulePath, resolvePrincipal, uuidArg, type PrincipalOptions, type SharingCommandDeps,
} from '../sharing-args.js';
import { accessCreatedNote, formatAccessList, identityPrincipals } from '../sharing-output.js';
import type { AccessPermissions } from '../api-client.js';

/** `ferry acl add | list | rm`: access rules of a guest collection (globus-api.md §1.5, §3). */

const ABOUT = `
An access rule lets someone use part of a guest collection: a principal (one person, a
group, anyone signed in, or anyone at all), a path inside the collection (/ is the shared
directory itself; folders are written with a trailing /, e.g. /raw/), and r (read) or rw
(read and write). Rules only add: rw on /raw/ still holds where another rule gives r on
/raw/run1/. You, and holders of the administrator or access_manager role, always have rw
on / (listed as "(role)"). Manage rules with a role of administrator or access_manager.`;

const ruleIdArg = () => uuidArg('RULE_ID', 'the rule\'s ID, from `ferry acl list`', 'an access rule ID', { example: EXAMPLE_RULE_ID });
const shareIdArg = () => uuidArg('SHARE_ID', 'the guest collection\'s ID, from `ferry share list`', 'a guest collection ID');

interface AclAddOptions extends PrincipalOptions {
  path: string;
  permissions: AccessPermissions;
  expirationDate?: string;
  notifyEmail?: string;
  notifyMessage?: string;
  format: OutputFormat;
}

export function registerAclCommands(program: Command, deps: SharingCommandDeps = defaultSharingDeps): void {
  const { io } = deps;
  const acl = program.command('acl')
    .description('control who may read or write what in a guest collection (access rules)')
    .addHelpText('after', `${ABOUT}\n\nSee \`ferry acl add --help\`.\n`);

  const add = acl.command('add')
    .description('grant a person, a group, or everyone read or read-write access to a path (prints the rule ID)')
    .addArgument(shareIdArg());
  addPrincipalOptions(add, true)
    .addOption(new Option('--path <PATH>', 'where the rule applies: a path inside the collection, starting with / (/ is all of it)')
      .argParser(parseRulePath).makeOptionMandatory())
    .addOption(new Option('--permissions <r|rw>', 'r to read and download; rw to also upload, rename and delete')
      .choices(ACCESS_PERMISSIONS).makeOptionMandatory())
    .addOption(new Option('--expiration-date <DATE>', 'the rule stops applying then: 2026-05-01 (midnight UTC) or 2026-05-01T12:00:00+02:00')
      .argParser(parseExpiration))
    .addOption(new Option('--notify-email <ADDR>', 'email this address that access was granted').argParser(parseEmail))
    .option('--notify-message <TEXT>', 'a note to add to that email (needs --notify-email)')
    .addOption(formatOption())
    .addHelpText('after', `${ABOUT}

Give exactly one of --identity, --group, --all-authenticated and --anonymous. A username is
looked up through Ferry Auth, which needs \`ferry login\`; an identity UUID works without.
The rule's ID goes to stdout (the rest to stderr), so scripts can capture it.

Examples:
  $ ferry acl add ${EXAMPLE_SHARE_ID} --identity alice@example.org --path / --permissions r
  $ ferry acl add ${EXAMPLE_SHARE_ID} --group ${EXAMPLE_GROUP_ID} --path /incoming/ --permissions rw
  $ ferry acl add ${EXAMPLE_SHARE_ID} --all-authenticated --path /public/ --permissions r --expiration-date 2026-12-31
  $ ferry acl add ${EXAMPLE_SHARE_ID} --identity bob@example.org --path /raw/ --permissions r \\
      --notify-email bob@example.org --notify-message "Run 7 is in /raw/"
`)
    .action(async (shareId: string, opts: AclAddOptions, self: Command) => {
      const usage = (msg: string): never => self.error(`error: ${msg}`, { exitCode: EXIT.usage, code: 'ferry.invalidArgument' });
      const choice = checkPrincipal(opts, true);
      if (typeof choice === 'string') return usage(choice);
      if (opts.notifyMessage !== undefined && opts.notifyEmail === undefined) usage('--notify-message needs --notify-email (the message goes into that email)');
      const principal = await resolvePrincipal(choice, deps.identities);
      const rule = {
        ...principal,
        path: opts.path,
        permissions: opts.permissions,
        ...(opts.expirationDate === undefined ? {} : { expiration_date: opts.expirationDate }),
        ...(opts.notifyEmail === undefined ? {} : { notify_email: opts.notifyEmail }),
        ...(opts.notifyMessage === undefined ? {} : { notify_message: opts.notifyMessage }),
      };
      const result = await withClient(deps, (c) => c.accessCreate(shareId, rule));
      if (opts.format === 'json') {
        io.out(formatJson(result));
        return;
      }
      io.out(`${result.access_id}\n`);
      const who = choice.type === 'identity' || choice.type === 'group' ? choice.value : '';
      io.err(accessCreatedNote(result.access_id, shareId, rule, who));
    });

  acl.command('list')
    .description('list the access rules of a guest collection')
    .addArgument(shareIdArg())
    .addOption(formatOption())
    .addHelpText('after', `
Columns: rule ID ("(role)" for the implicit rw of the owner and of administrators and access
managers, which \`ferry acl rm\` cannot remove), principal type, principal (the username of an
identity when you are signed in with \`ferry login\`, else its UUID), path, permissions, and
when the rule expires (UTC).

Example:
  $ ferry acl list ${EXAMPLE_SHARE_ID}
`)
    .action(async (shareId: string, opts: { format: OutputFormat }) => {
      const list = await withClient(deps, (c) => c.accessList(shareId));
      if (opts.format === 'json') {
        io.out(formatJson(list));
        return;
      }
      io.out(formatAccessList(list, await deps.identities.usernamesOf(identityPrincipals(list.DATA))));
    });

  acl.command('rm')
    .description('delete an access rule; whoever it named loses what it granted at once')
    .addArgument(shareIdArg())
    .addArgument(ruleIdArg())
    .addOption(formatOption())
    .addHelpText('after', `\nExample:\n  $ ferry acl rm ${EXAMPLE_SHARE_ID} ${EXAMPLE_RULE_ID}\n`)
    .action(async (shareId: string, ruleId: string, opts: { format: OutputFormat }) => {
      const result = await withClient(deps, (c) => c.accessDelete(shareId, ruleId));
      io.out(opts.format === 'json' ? formatJson(result) : formatResult(result));
    });
}
